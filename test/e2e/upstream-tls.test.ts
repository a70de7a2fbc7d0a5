// HTTPS upstreams: a service's own CA and client certificate, on every runtime's client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { startDemoUpstreams, type DemoUpstreams } from "../../scripts/demo-upstreams.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { RUNTIME, startPortico, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

const dir = mkdtempSync(join(tmpdir(), "portico-upstream-pki-"));
function openssl(args: string[]) {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}
/**
 * A CA, a server certificate for 127.0.0.1 / upstream.test, one for the name named.upstream.test
 * only (not the address), and a client certificate, per run.
 */
function makePki() {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl([
    "req",
    "-x509",
    ...ec,
    "-subj",
    "/CN=Upstream Test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  ]);
  for (const [name, cn, ext] of [
    ["server", "upstream.test", "subjectAltName=DNS:upstream.test,IP:127.0.0.1"],
    ["named", "named.upstream.test", "subjectAltName=DNS:named.upstream.test"],
    ["client", "portico-client", "extendedKeyUsage=clientAuth"],
  ] as const) {
    openssl(["req", ...ec, "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    ]);
  }
}

let upstream: Http2SecureServer;
let named: Http2SecureServer;
let demo: DemoUpstreams;
let p: PorticoProcess;
let http: number;

beforeAll(async () => {
  makePki();
  const f = (n: string) => readFileSync(join(dir, n), "utf8");
  // node:http2 with HTTP/1.1 allowed: on Bun (which runs this test) node:https hides the peer
  // certificate, node:http2 shows it (docs/runtimes.md, "node:tls, node:https and node:http2").
  const options = {
    key: f("server.key"),
    cert: f("server.crt"),
    ca: f("ca.crt"),
    requestCert: true,
    rejectUnauthorized: true,
    allowHTTP1: true,
  };
  // Both answer with the client certificate's CN and the SNI the handshake carried.
  const answer = (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const socket = req.socket as unknown as TLSSocket;
    const sni = (socket as unknown as { servername?: string | false }).servername || null;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ client: socket.getPeerCertificate().subject?.CN, path: req.url, sni }));
  };
  upstream = createSecureServer(options, answer);
  named = createSecureServer({ ...options, key: f("named.key"), cert: f("named.crt") }, answer);
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => named.listen(0, "127.0.0.1", r));
  const up = (upstream.address() as { port: number }).port;
  const namedPort = (named.address() as { port: number }).port;
  demo = await startDemoUpstreams();
  [http] = await freePorts(1);
  const yaml = `
listeners:
  - { name: web, address: 127.0.0.1, port: ${http}, protocol: HTTP }
services:
  secure:
    url: https://127.0.0.1:${up}
    tls: { ca: ${dir}/ca.crt, cert: ${dir}/client.crt, key: ${dir}/client.key }
  no-client-cert:
    url: https://127.0.0.1:${up}
    tls: { ca: ${dir}/ca.crt }
  system-trust: https://127.0.0.1:${up}
  by-name:
    url: https://127.0.0.1:${namedPort}
    tls: { ca: ${dir}/ca.crt, cert: ${dir}/client.crt, key: ${dir}/client.key, serverName: named.upstream.test }
  by-address:
    url: https://127.0.0.1:${namedPort}
    tls: { ca: ${dir}/ca.crt, cert: ${dir}/client.crt, key: ${dir}/client.key }
  sans-match:
    url: https://127.0.0.1:${namedPort}
    tls: { ca: ${dir}/ca.crt, cert: ${dir}/client.crt, key: ${dir}/client.key, subjectAltNames: [named.upstream.test] }
  sans-mismatch:
    url: https://127.0.0.1:${up}
    tls: { ca: ${dir}/ca.crt, cert: ${dir}/client.crt, key: ${dir}/client.key, subjectAltNames: [other.test] }
  insecure:
    url: https://127.0.0.1:${namedPort}
    tls: { cert: ${dir}/client.crt, key: ${dir}/client.key, insecureSkipVerify: true }
  by-credential:
    url: https://127.0.0.1:${up}
    tls: { credential: upstream-client }
  named.upstream.test:
    endpoints: [{ address: 127.0.0.1, port: ${namedPort} }]
    tls: { ca: ${dir}/ca.crt, cert: ${dir}/client.crt, key: ${dir}/client.key }
  webapp: http://127.0.0.1:${demo.webappPort}
credentials:
  upstream-client: { cert: ${dir}/client.crt, key: ${dir}/client.key, ca: ${dir}/ca.crt }
routes:
  - hosts: ["*"]
    http:
      - { match: [{ uri: { prefix: /secure } }], route: [{ destination: secure }] }
      - { match: [{ uri: { prefix: /nocert } }], route: [{ destination: no-client-cert }] }
      - { match: [{ uri: { prefix: /untrusted } }], route: [{ destination: system-trust }] }
      - { match: [{ uri: { prefix: /byname } }], route: [{ destination: by-name }] }
      - { match: [{ uri: { prefix: /byaddress } }], route: [{ destination: by-address }] }
      - { match: [{ uri: { prefix: /sans-match } }], route: [{ destination: sans-match }] }
      - { match: [{ uri: { prefix: /sans-mismatch } }], route: [{ destination: sans-mismatch }] }
      - { match: [{ uri: { prefix: /insecure } }], route: [{ destination: insecure }] }
      - { match: [{ uri: { prefix: /credential } }], route: [{ destination: by-credential }] }
      - { match: [{ uri: { prefix: /pooled } }], route: [{ destination: named.upstream.test }] }
      - route: [{ destination: webapp }]
`;
  p = await startPortico(writeConfig(yaml));
});
afterAll(async () => {
  await p?.stop();
  await new Promise((r) => upstream?.close(r));
  await new Promise((r) => named?.close(r));
  await demo?.close();
});

describe(`HTTPS upstreams (client on ${RUNTIME})`, () => {
  test("the service's CA and client certificate reach a mutual-TLS upstream", async () => {
    const r = await curl([`http://127.0.0.1:${http}/secure/x?y=1`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ client: "portico-client", path: "/secure/x?y=1", sni: null });
  });

  test("without the client certificate the upstream refuses: 503", async () => {
    const r = await curl([`http://127.0.0.1:${http}/nocert`]);
    expect(r.status).toBe(503);
  });

  test("an upstream certificate outside the trust store is not accepted: 503", async () => {
    const r = await curl([`http://127.0.0.1:${http}/untrusted`]);
    expect(r.status).toBe(503);
  });

  test("serverName sets the SNI and the name verified: an upstream whose certificate names only it", async () => {
    const r = await curl([`http://127.0.0.1:${http}/byname`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({
      client: "portico-client",
      path: "/byname",
      sni: "named.upstream.test",
    });
  });

  test("the same upstream without serverName: its certificate does not cover the address, 503", async () => {
    const r = await curl([`http://127.0.0.1:${http}/byaddress`]);
    expect(r.status).toBe(503);
  });

  test("subjectAltNames replace the name check: a certificate naming only them is accepted", async () => {
    const r = await curl([`http://127.0.0.1:${http}/sans-match`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).client).toBe("portico-client");
  });

  test("subjectAltNames the certificate does not carry: refused, 503, though it chains and covers the address", async () => {
    const r = await curl([`http://127.0.0.1:${http}/sans-mismatch`]);
    expect(r.status).toBe(503);
  });

  test("insecureSkipVerify: an upstream outside the trust store, for another name, is accepted", async () => {
    const r = await curl([`http://127.0.0.1:${http}/insecure`]);
    expect(r.status).toBe(200);
  });

  test("a credential gives the client certificate and the trust anchors", async () => {
    const r = await curl([`http://127.0.0.1:${http}/credential`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).client).toBe("portico-client");
  });

  test("a pooled service is reached by address, with SNI and verified name = its host name", async () => {
    const r = await curl([`http://127.0.0.1:${http}/pooled`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ client: "portico-client", sni: "named.upstream.test" });
  });

  test("a gzip body passes through untouched, with its content-encoding", async () => {
    const out = join(dir, `gzip-${RUNTIME}.bin`);
    const r = await curl([`http://127.0.0.1:${http}/gzip`, "-H", "accept-encoding: gzip", "-o", out]);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-encoding")).toBe("gzip");
    expect(gunzipSync(readFileSync(out)).toString()).toBe("compressed hello\n".repeat(100));
  });
});
