// SCENARIO.md steps 1–4, replayed with the walkthrough's own curl commands (ports changed to
// free ones) against Portico running each of the book's four Gateway configurations: first the
// book's own Gateway and VirtualService files (`portico run -c`, the book's secrets as credential
// folders), then the same configuration written as routes.yaml. Every case runs against both.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  CATALOG_BODY,
  WEBAPP_BODY,
  startDemoUpstreams,
  type DemoUpstreams,
} from "../../scripts/demo-upstreams.ts";
import {
  BOOK_GATEWAYS as STEPS,
  HOST_CATALOG,
  HOST_WEBAPP,
  book,
  bookRoutesYaml,
  startBookFiles,
  type BookGateway,
} from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { startPortico, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { handshake, tls11Server } from "../helpers/tls-client.ts";

let upstreams: DemoUpstreams;
beforeAll(async () => {
  upstreams = await startDemoUpstreams();
});
afterAll(async () => {
  await upstreams.close();
});

const SOURCES = ["the book's files", "routes.yaml"] as const;
type Source = (typeof SOURCES)[number];

/** Starts Portico on `step` as given by `source`, with HTTP on `http` and HTTPS on `https`. */
function gateway(source: Source, step: BookGateway, http: number, https: number): Promise<PorticoProcess> {
  if (source === "the book's files") {
    const services = {
      webapp: `http://127.0.0.1:${upstreams.webappPort}`,
      catalog: `http://127.0.0.1:${upstreams.catalogPort}`,
    };
    return startBookFiles(step.files, { 80: http, 443: https }, services);
  }
  return startPortico(writeConfig(bookRoutesYaml(step, { http, https }, upstreams)));
}

function expectWebappAnswer(r: Awaited<ReturnType<typeof curl>>) {
  expect(r.exitCode).toBe(0);
  expect(r.status).toBe(200);
  expect(r.httpVersion).toBe("2");
  expect(r.body).toBe(WEBAPP_BODY);
  expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
  expect(r.headers.get("content-length")).toBe("357");
  expect(r.headers.get("x-envoy-upstream-service-time")).toMatch(/^\d+$/);
  expect(r.headers.get("server")).toBe("portico");
  expect(r.stderr).toContain("SSL connection using TLSv1.3");
  expect(r.stderr).toContain("ALPN: server accepted h2");
}

for (const source of SOURCES) {
  describe(`${source}: 1. HTTPS, one host (coolstore-gw-tls.yaml, SIMPLE)`, () => {
    let p: PorticoProcess;
    let http: number, https: number;
    beforeAll(async () => {
      [http, https] = await freePorts(2);
      p = await gateway(source, STEPS.tls, http, https);
    });
    afterAll(() => p?.stop());

    test("1.1 no SNI for an IP address: the handshake is refused (curl exit 35)", async () => {
      const r = await curl(["-v", "-H", `Host: ${HOST_WEBAPP}`, `https://127.0.0.1:${https}/api/catalog`]);
      expect(r.exitCode).toBe(35);
      expect(r.status).toBe(0);
    });

    test("1.2 the same with the CA chain: still refused, same cause", async () => {
      const r = await curl([
        "-v",
        "-H",
        `Host: ${HOST_WEBAPP}`,
        `https://127.0.0.1:${https}/api/catalog`,
        "--cacert",
        book.webappCaChain,
      ]);
      expect(r.exitCode).toBe(35);
      expect(r.status).toBe(0);
    });

    test("1.3 by name with --resolve: TLS 1.3, h2, 200 and the JSON", async () => {
      const r = await curl([
        "-v",
        `https://${HOST_WEBAPP}:${https}/api/catalog`,
        "--cacert",
        book.webappCaChain,
        "--resolve",
        `${HOST_WEBAPP}:${https}:127.0.0.1`,
      ]);
      expectWebappAnswer(r);
      expect(r.stderr).toContain(
        "subject: C=US; ST=Denial; L=Springfield; O=Dis; CN=webapp.istioinaction.io",
      );
      expect(r.stderr).toContain("SSL certificate verify ok");
    });

    test("1.3 over HTTP/1.1 as well", async () => {
      const r = await curl([
        "--http1.1",
        `https://${HOST_WEBAPP}:${https}/api/catalog`,
        "--cacert",
        book.webappCaChain,
        "--resolve",
        `${HOST_WEBAPP}:${https}:127.0.0.1`,
      ]);
      expect(r.status).toBe(200);
      expect(r.httpVersion).toBe("1.1");
      expect(r.body).toBe(WEBAPP_BODY);
    });

    test("the port-80 server (no redirect) serves plain HTTP", async () => {
      const r = await curl(["-H", `Host: ${HOST_WEBAPP}`, `http://127.0.0.1:${http}/api/catalog`]);
      expect(r.status).toBe(200);
      expect(r.body).toBe(WEBAPP_BODY);
    });

    test("a client offering only TLS 1.1 is refused (TLS 1.2 minimum), and completes TLS 1.2", async () => {
      // The same client completes TLS 1.1 with a server that allows it: the refusal is Portico's.
      const control = await tls11Server(book.webappCert, book.webappKey);
      try {
        const old = await handshake(control.port, { servername: HOST_WEBAPP, version: "1.1" });
        expect(old.ok).toBe(true);
        expect(old.protocol).toBe("TLSv1.1");
      } finally {
        control.stop();
      }
      const r = await handshake(https, { servername: HOST_WEBAPP, version: "1.1" });
      expect(r.ok).toBe(false);
      const tls12 = await handshake(https, { servername: HOST_WEBAPP, version: "1.2" });
      expect(tls12.ok).toBe(true);
      expect(tls12.protocol).toBe("TLSv1.2");
    });

    test("fetch (Web API client) gets the same answer", async () => {
      const res = await fetch(`https://127.0.0.1:${https}/api/catalog`, {
        headers: { host: HOST_WEBAPP },
        // Bun's fetch TLS options: SNI and trust anchors for a private CA
        tls: { serverName: HOST_WEBAPP, ca: await Bun.file(book.webappCaChain).text() },
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(WEBAPP_BODY);
      expect(res.headers.get("server")).toBe("portico");
    });
  });

  describe(`${source}: 2. Force HTTPS (coolstore-gw-tls-redirect.yaml)`, () => {
    let p: PorticoProcess;
    let http: number, https: number;
    beforeAll(async () => {
      [http, https] = await freePorts(2);
      p = await gateway(source, STEPS.redirect, http, https);
    });
    afterAll(() => p?.stop());

    test("plain HTTP answers 301 with location https://host/path and an empty body", async () => {
      const r = await curl(["-v", "-H", `Host: ${HOST_WEBAPP}`, `http://127.0.0.1:${http}/api/catalog`]);
      expect(r.exitCode).toBe(0);
      expect(r.status).toBe(301);
      expect(r.stderr).toContain("HTTP/1.1 301 Moved Permanently");
      // The book's gateway listens on 443, so its location has no port; ours names the real one.
      expect(r.headers.get("location")).toBe(`https://${HOST_WEBAPP}:${https}/api/catalog`);
      expect(r.headers.get("content-length")).toBe("0");
      expect(r.headers.get("server")).toBe("portico");
      expect(r.body).toBe("");
    });

    test("the query string is kept", async () => {
      const r = await curl([
        "-H",
        `Host: ${HOST_WEBAPP}`,
        `http://127.0.0.1:${http}/api/catalog?page=2&x=%20y`,
      ]);
      expect(r.headers.get("location")).toBe(`https://${HOST_WEBAPP}:${https}/api/catalog?page=2&x=%20y`);
    });

    test("following the redirect reaches the app over TLS", async () => {
      const r = await curl([
        "-L",
        "--cacert",
        book.webappCaChain,
        "--resolve",
        `${HOST_WEBAPP}:${http}:127.0.0.1`,
        "--resolve",
        `${HOST_WEBAPP}:${https}:127.0.0.1`,
        `http://${HOST_WEBAPP}:${http}/api/catalog`,
      ]);
      expect(r.status).toBe(200);
      expect(r.body).toBe(WEBAPP_BODY);
    });

    test("a host the server does not list gets 404, not a redirect", async () => {
      const r = await curl(["-H", "Host: other.example", `http://127.0.0.1:${http}/api/catalog`]);
      expect(r.status).toBe(404);
    });
  });

  describe(`${source}: 3. Mutual TLS (coolstore-gw-mtls.yaml, MUTUAL)`, () => {
    let p: PorticoProcess;
    let https: number;
    const base = () => [
      `https://${HOST_WEBAPP}:${https}/api/catalog`,
      "--cacert",
      book.webappCaChain,
      "--resolve",
      `${HOST_WEBAPP}:${https}:127.0.0.1`,
    ];
    beforeAll(async () => {
      const [http, port] = await freePorts(2);
      https = port!;
      p = await gateway(source, STEPS.mtls, http!, https);
    });
    afterAll(() => p?.stop());

    test("3.1 without a client certificate: no HTTP response", async () => {
      const r = await curl(["-v", ...base()]);
      expect(r.exitCode).not.toBe(0);
      // TLS 1.3: the refusal may land while curl sends (55) or reads (56), or in the handshake (35).
      expect([35, 55, 56]).toContain(r.exitCode);
      expect(r.status).toBe(0);
      expect(r.stderr).toContain("Request CERT");
    });

    test("a client offering only TLS 1.1 is refused, even with the book's client certificate", async () => {
      const cert = { cert: book.webappClientCert, key: book.webappClientKey };
      expect((await handshake(https, { servername: HOST_WEBAPP, version: "1.1", ...cert })).ok).toBe(false);
      expect((await handshake(https, { servername: HOST_WEBAPP, version: "1.2", ...cert })).ok).toBe(true);
    });

    test("3.2 with the book's client certificate: 200 exactly as in 1.3", async () => {
      const r = await curl(["-v", ...base(), "--cert", book.webappClientCert, "--key", book.webappClientKey]);
      expectWebappAnswer(r);
    });

    test("a client certificate from another CA never gets a response (repeated 25 times)", async () => {
      for (let i = 0; i < 25; i++) {
        const r = await curl([...base(), "--cert", book.catalogClientCert, "--key", book.catalogClientKey]);
        expect(r.status).toBe(0);
        expect(r.exitCode).not.toBe(0);
      }
    });

    test("the upstream sees the verified client certificate as x-forwarded-client-cert", async () => {
      const r = await curl([
        `https://${HOST_WEBAPP}:${https}/echo`,
        "--cacert",
        book.webappCaChain,
        "--resolve",
        `${HOST_WEBAPP}:${https}:127.0.0.1`,
        "--cert",
        book.webappClientCert,
        "--key",
        book.webappClientKey,
        "-H",
        "x-forwarded-client-cert: By=spoofed",
      ]);
      expect(r.status).toBe(200);
      const seen = JSON.parse(r.body).headers;
      const fp = new Bun.CryptoHasher("sha256")
        .update(derOf(await Bun.file(book.webappClientCert).text()))
        .digest("hex");
      expect(seen["x-forwarded-client-cert"]).toBe(
        `Hash=${fp};Subject="CN=webapp.istioinaction.io,O=Dis,L=Springfield,ST=Denial,C=US";URI=`,
      );
    });
  });

  describe(`${source}: 4. Several hosts, several certificates on one port (coolstore-gw-multi-tls.yaml + catalog-vs.yaml)`, () => {
    let p: PorticoProcess;
    let https: number;
    beforeAll(async () => {
      const [http, port] = await freePorts(2);
      https = port!;
      p = await gateway(source, STEPS.multi, http!, https);
    });
    afterAll(() => p?.stop());

    test("4.1 step 1.3's command still succeeds", async () => {
      const r = await curl([
        "-v",
        `https://${HOST_WEBAPP}:${https}/api/catalog`,
        "--cacert",
        book.webappCaChain,
        "--resolve",
        `${HOST_WEBAPP}:${https}:127.0.0.1`,
      ]);
      expectWebappAnswer(r);
    });

    test("4.2 catalog: its own certificate by SNI, 200, pretty JSON, the upstream's headers", async () => {
      const r = await curl([
        "-v",
        `https://${HOST_CATALOG}:${https}/items`,
        "--cacert",
        book.catalogCaChain,
        "--resolve",
        `${HOST_CATALOG}:${https}:127.0.0.1`,
      ]);
      expect(r.exitCode).toBe(0);
      expect(r.status).toBe(200);
      expect(r.httpVersion).toBe("2");
      expect(r.stderr).toContain(
        "subject: C=US; ST=Denial; L=Springfield; O=Dis; CN=catalog.istioinaction.io",
      );
      expect(r.body).toBe(CATALOG_BODY);
      const h = r.headers;
      expect(h.get("x-powered-by")).toBe("Express");
      expect(h.get("vary")).toBe("Origin, Accept-Encoding");
      expect(h.get("access-control-allow-credentials")).toBe("true");
      expect(h.get("cache-control")).toBe("no-cache");
      expect(h.get("pragma")).toBe("no-cache");
      expect(h.get("expires")).toBe("-1");
      expect(h.get("content-type")).toBe("application/json; charset=utf-8");
      expect(h.get("content-length")).toBe("502");
      expect(h.get("etag")).toBe('W/"1f6-ih2h+hDQ0yLLcKIlBvwkWbyQGK4"'); // byte-for-byte the book's
      expect(h.get("x-envoy-upstream-service-time")).toMatch(/^\d+$/);
      expect(h.get("server")).toBe("portico");
    });

    test("the catalog name with the webapp CA fails verification: the certificates really differ", async () => {
      const r = await curl([
        `https://${HOST_CATALOG}:${https}/items`,
        "--cacert",
        book.webappCaChain,
        "--resolve",
        `${HOST_CATALOG}:${https}:127.0.0.1`,
      ]);
      expect(r.exitCode).toBe(60);
    });

    test("an unknown SNI is refused", async () => {
      const r = await curl([
        "-k",
        `https://other.istioinaction.io:${https}/`,
        "--resolve",
        `other.istioinaction.io:${https}:127.0.0.1`,
      ]);
      expect(r.exitCode).toBe(35);
    });
  });
}

function derOf(pem: string): Uint8Array {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(Buffer.from(b64, "base64"));
}
