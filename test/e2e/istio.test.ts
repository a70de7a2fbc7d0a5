// The book's Istio files, loaded unchanged: each Gateway/VirtualService combination of the
// walkthrough, the book's curl command, the book's result. Services point at loopback
// stand-ins (--service), ports are remapped to free ones (--port), credentials come from
// Secret documents or from credential folders named like the book's secrets (certs/).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CATALOG_BODY,
  WEBAPP_BODY,
  startDemoUpstreams,
  type DemoUpstreams,
} from "../../scripts/demo-upstreams.ts";
import { HOST_CATALOG, HOST_WEBAPP, book } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import {
  BOOK,
  ROOT,
  runPortico,
  startPorticoWith,
  writeConfig,
  type PorticoProcess,
} from "../helpers/portico.ts";

const fx = (name: string) => join(BOOK, name);
let upstreams: DemoUpstreams;
beforeAll(async () => {
  upstreams = await startDemoUpstreams();
});
afterAll(() => upstreams?.close());

/** `portico run` on the given files with the walkthrough's services and free ports. */
async function run(
  files: string[],
  ports: Record<number, number>,
  extra: string[] = [],
): Promise<PorticoProcess> {
  const args = [
    "run",
    ...files.flatMap((f) => ["-c", f]),
    "--bind",
    "127.0.0.1",
    "--credentials",
    join(ROOT, "certs"),
  ];
  args.push(
    "--service",
    `webapp=http://127.0.0.1:${upstreams.webappPort}`,
    "--service",
    `catalog=http://127.0.0.1:${upstreams.catalogPort}`,
  );
  for (const [from, to] of Object.entries(ports)) args.push("--port", `${from}=${to}`);
  return startPorticoWith([...args, ...extra]);
}

const resolveTo = (host: string, port: number) => ["--resolve", `${host}:${port}:127.0.0.1`];

describe("coolstore-gw.yaml + coolstore-vs.yaml (HTTP only)", () => {
  let p: PorticoProcess, http: number;
  beforeAll(async () => {
    [http] = await freePorts(1);
    p = await run([fx("coolstore-gw.yaml"), fx("coolstore-vs.yaml")], { 80: http! });
  });
  afterAll(() => p?.stop());
  test("curl -H Host: webapp.istioinaction.io http://GATEWAY/api/catalog → 200 and the JSON", async () => {
    const r = await curl(["-H", `Host: ${HOST_WEBAPP}`, `http://127.0.0.1:${http}/api/catalog`]);
    expect(r.status).toBe(200);
    expect(r.body).toBe(WEBAPP_BODY);
  });
  test("a host the Gateway does not list → 404", async () => {
    expect((await curl(["-H", "Host: other.example", `http://127.0.0.1:${http}/api/catalog`])).status).toBe(
      404,
    );
  });
});

describe("a folder of Istio files (-c dir/)", () => {
  test("every .yaml in it is read: the book's TLS gateway and its VirtualService serve step 1.3", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portico-istio-dir-"));
    copyFileSync(fx("coolstore-gw-tls.yaml"), join(dir, "coolstore-gw-tls.yaml"));
    copyFileSync(fx("coolstore-vs.yaml"), join(dir, "coolstore-vs.yaml"));
    writeFileSync(join(dir, "notes.txt"), "not YAML, not read");
    const [http, https] = await freePorts(2);
    const p = await run([dir], { 80: http!, 443: https! });
    try {
      const r = await curl([
        `https://${HOST_WEBAPP}:${https}/api/catalog`,
        "--cacert",
        book.webappCaChain,
        ...resolveTo(HOST_WEBAPP, https!),
      ]);
      expect(r.status).toBe(200);
      expect(r.body).toBe(WEBAPP_BODY);
    } finally {
      await p.stop();
    }
  }, 15_000); // starts its own Portico: more than the default 5 s on a loaded machine
});

describe("coolstore-gw-tls.yaml + coolstore-vs.yaml (steps 1.1–1.3)", () => {
  let p: PorticoProcess, https: number, http: number;
  beforeAll(async () => {
    [http, https] = await freePorts(2);
    p = await run([fx("coolstore-gw-tls.yaml"), fx("coolstore-vs.yaml")], { 80: http!, 443: https! });
  });
  afterAll(() => p?.stop());
  test("1.1 and 1.2: no SNI → handshake refused", async () => {
    expect(
      (await curl(["-H", `Host: ${HOST_WEBAPP}`, `https://127.0.0.1:${https}/api/catalog`])).exitCode,
    ).toBe(35);
    expect(
      (
        await curl([
          "-H",
          `Host: ${HOST_WEBAPP}`,
          `https://127.0.0.1:${https}/api/catalog`,
          "--cacert",
          book.webappCaChain,
        ])
      ).exitCode,
    ).toBe(35);
  });
  test("1.3: HTTP/2 200 with the JSON", async () => {
    const r = await curl([
      "-v",
      `https://${HOST_WEBAPP}:${https}/api/catalog`,
      "--cacert",
      book.webappCaChain,
      ...resolveTo(HOST_WEBAPP, https),
    ]);
    expect(r.status).toBe(200);
    expect(r.httpVersion).toBe("2");
    expect(r.body).toBe(WEBAPP_BODY);
    expect(r.headers.get("x-envoy-upstream-service-time")).toMatch(/^\d+$/);
  });
});

describe("coolstore-gw-tls-redirect.yaml + coolstore-vs.yaml (step 2)", () => {
  let p: PorticoProcess, http: number, https: number;
  beforeAll(async () => {
    [http, https] = await freePorts(2);
    p = await run([fx("coolstore-gw-tls-redirect.yaml"), fx("coolstore-vs.yaml")], {
      80: http!,
      443: https!,
    });
  });
  afterAll(() => p?.stop());
  test("301 with location https://webapp.istioinaction.io:<https port>/api/catalog", async () => {
    const r = await curl(["-v", "-H", `Host: ${HOST_WEBAPP}`, `http://127.0.0.1:${http}/api/catalog`]);
    expect(r.status).toBe(301);
    // The book's location, https://webapp.istioinaction.io/api/catalog, with the port 443 was
    // mapped to: the redirect names where the Gateway's HTTPS server really listens.
    expect(r.headers.get("location")).toBe(`https://${HOST_WEBAPP}:${https}/api/catalog`);
    expect(r.body).toBe("");
  });
});

describe("coolstore-gw-mtls.yaml + coolstore-vs.yaml (step 3)", () => {
  let p: PorticoProcess, https: number;
  beforeAll(async () => {
    const [http, s] = await freePorts(2);
    https = s!;
    p = await run([fx("coolstore-gw-mtls.yaml"), fx("coolstore-vs.yaml")], { 80: http!, 443: https });
  });
  afterAll(() => p?.stop());
  test("3.1 without a client certificate: no HTTP response", async () => {
    const r = await curl([
      `https://${HOST_WEBAPP}:${https}/api/catalog`,
      "--cacert",
      book.webappCaChain,
      ...resolveTo(HOST_WEBAPP, https),
    ]);
    expect(r.status).toBe(0);
  });
  test("3.2 with the client certificate: 200", async () => {
    const r = await curl([
      `https://${HOST_WEBAPP}:${https}/api/catalog`,
      "--cacert",
      book.webappCaChain,
      ...resolveTo(HOST_WEBAPP, https),
      "--cert",
      book.webappClientCert,
      "--key",
      book.webappClientKey,
    ]);
    expect(r.status).toBe(200);
    expect(r.body).toBe(WEBAPP_BODY);
  });
});

describe("coolstore-gw-multi-tls.yaml + coolstore-vs.yaml + catalog-vs.yaml (step 4)", () => {
  let p: PorticoProcess, https: number;
  beforeAll(async () => {
    [https] = await freePorts(1);
    p = await run([fx("coolstore-gw-multi-tls.yaml"), fx("coolstore-vs.yaml"), fx("catalog-vs.yaml")], {
      443: https!,
    });
  });
  afterAll(() => p?.stop());
  test("4.1 webapp and 4.2 catalog, each with its own certificate", async () => {
    const w = await curl([
      `https://${HOST_WEBAPP}:${https}/api/catalog`,
      "--cacert",
      book.webappCaChain,
      ...resolveTo(HOST_WEBAPP, https),
    ]);
    expect(w.body).toBe(WEBAPP_BODY);
    const c = await curl([
      `https://${HOST_CATALOG}:${https}/items`,
      "--cacert",
      book.catalogCaChain,
      ...resolveTo(HOST_CATALOG, https),
    ]);
    expect(c.status).toBe(200);
    expect(c.body).toBe(CATALOG_BODY);
    expect(c.headers.get("x-powered-by")).toBe("Express");
  });
});

describe("credentials from Secret documents, as kubectl creates them", () => {
  const b64 = (f: string) => readFileSync(f).toString("base64");
  test("a kubernetes.io/tls Secret and a generic one with ca.crt serve steps 1.3 and 3.2", async () => {
    const secrets = writeConfig(
      `apiVersion: v1
kind: Secret
metadata:
  name: webapp-credential
  namespace: istio-system
type: kubernetes.io/tls
data:
  tls.crt: ${b64(book.webappCert)}
  tls.key: ${b64(book.webappKey)}
---
apiVersion: v1
kind: Secret
metadata:
  name: webapp-credential-mtls
type: Opaque
data:
  tls.crt: ${b64(book.webappCert)}
  tls.key: ${b64(book.webappKey)}
  ca.crt: ${b64(book.webappCaChain)}
`,
      "secrets.yaml",
    );
    const [a, b, http] = await freePorts(3);
    // Two Gateways from the book with their names changed so both load; no credential folder.
    const tlsGw = readFileSync(fx("coolstore-gw-tls.yaml"), "utf8")
      .replace("name: coolstore-gateway", "name: gw-tls")
      .replace(/- port:\n\s+number: 80[\s\S]*?(?=- port:)/, "");
    const mtlsGw = readFileSync(fx("coolstore-gw-mtls.yaml"), "utf8").replace(
      "name: coolstore-gateway",
      "name: gw-mtls",
    );
    const vs = readFileSync(fx("coolstore-vs.yaml"), "utf8").replace(
      "- coolstore-gateway",
      "- gw-tls\n  - gw-mtls",
    );
    const gws = writeConfig(
      `${tlsGw}\n---\n${mtlsGw.replace("number: 443", "number: 8443")}\n---\n${vs}\n`,
      "gateways.yaml",
    );
    const p = await startPorticoWith([
      "run",
      "-c",
      secrets,
      "-c",
      gws,
      "--bind",
      "127.0.0.1",
      "--port",
      `443=${a}`,
      "--port",
      `8443=${b}`,
      "--port",
      `80=${http}`,
      "--service",
      `webapp=http://127.0.0.1:${upstreams.webappPort}`,
    ]);
    try {
      const r1 = await curl([
        `https://${HOST_WEBAPP}:${a}/api/catalog`,
        "--cacert",
        book.webappCaChain,
        ...resolveTo(HOST_WEBAPP, a!),
      ]);
      expect(r1.status).toBe(200);
      const r3 = await curl([
        `https://${HOST_WEBAPP}:${b}/api/catalog`,
        "--cacert",
        book.webappCaChain,
        ...resolveTo(HOST_WEBAPP, b!),
        "--cert",
        book.webappClientCert,
        "--key",
        book.webappClientKey,
      ]);
      expect(r3.status).toBe(200);
      const r3x = await curl([
        `https://${HOST_WEBAPP}:${b}/api/catalog`,
        "--cacert",
        book.webappCaChain,
        ...resolveTo(HOST_WEBAPP, b!),
      ]);
      expect(r3x.status).toBe(0);
    } finally {
      await p.stop();
    }
  });
});

describe("what is not a Gateway, VirtualService or Secret", () => {
  test("Deployments, Services and EnvoyFilter are ignored, IstioOperator and Telemetry beyond the access log too", async () => {
    const r = await runPortico([
      "validate",
      "-c",
      fx("echo.yaml"),
      "-c",
      fx("control-plane-reduce-gw-config.yaml"),
      "-c",
      fx("ingress-gw-access-logging.yaml"),
      "-c",
      fx("enable-ingress-gw-access-logs.yaml"),
      "-c",
      fx("coolstore-gw.yaml"),
      "--credentials",
      join(ROOT, "certs"),
    ]);
    expect(r.stderr).toContain('Deployment "tcp-echo-deployment" ignored');
    expect(r.stderr).toContain('Service "tcp-echo-service" ignored');
    // IstioOperator and Telemetry are read for the access log only (observe/access-log.ts).
    expect(r.stderr).toContain(
      "control-plane-reduce-gw-config.yaml:6: spec.profile: ignored (only meshConfig.accessLogFile, accessLogEncoding and defaultConfig.gatewayTopology.numTrustedProxies are read)",
    );
    expect(r.stderr).toContain("spec.meshConfig.enablePrometheusMerge: ignored");
    expect(r.stderr).toContain('EnvoyFilter "ingressgateway-access-logging" ignored');
    expect(r.stderr).toContain(
      "enable-ingress-gw-access-logs.yaml:7: spec.selector: ignored (only accessLogging is read)",
    );
    expect(r.code).toBe(0);
  });

  test("a VirtualService naming a Gateway that was not loaded is an error with file and line", async () => {
    const r = await runPortico([
      "validate",
      "-c",
      fx("coolstore-vs.yaml"),
      "--service",
      "webapp=http://127.0.0.1:1",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${fx("coolstore-vs.yaml")}:9: spec.gateways[0]: no Gateway named "coolstore-gateway" was loaded`,
    );
  });

  test("a destination host without a service says how to give one", async () => {
    const r = await runPortico(["validate", "-c", fx("coolstore-gw.yaml"), "-c", fx("coolstore-vs.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--service webapp=http://HOST:PORT");
  });

  test("a credentialName with nothing behind it names what was looked for", async () => {
    const r = await runPortico([
      "validate",
      "-c",
      fx("coolstore-gw-tls.yaml"),
      "--credentials",
      "/nonexistent",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${fx("coolstore-gw-tls.yaml")}:21: spec.servers[1].tls.credentialName: credentialName "webapp-credential" names no Secret document, no credentials entry and no folder /nonexistent/webapp-credential with tls.crt and tls.key`,
    );
  });
});
