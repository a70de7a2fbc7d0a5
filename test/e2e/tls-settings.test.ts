// Istio's ServerTLSSettings beyond SIMPLE and MUTUAL, over real handshakes: OPTIONAL_MUTUAL,
// subjectAltNames, verifyCertificateSpki, verifyCertificateHash, caCrl, protocol versions,
// cipher suites and the file form. Certificates are made per run (test/helpers/pki.ts).
// A refused client never gets an HTTP response and its request never reaches the upstream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { certHash, rogueClient, spkiHash, TestPki, type Pem } from "../helpers/pki.ts";
import { RUNTIME, runPortico, startPortico, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { EchoUpstream } from "../helpers/upstreams.ts";

const HOSTS = ["optional", "san", "spki", "hash", "crl", "v13", "v12", "files", "simple", "ciphers"].map(
  (h) => `${h}.tls.test`,
);

const pki = new TestPki();
const server = pki.issue(
  "server",
  "tls.test",
  HOSTS.map((h) => `DNS:${h}`),
  "serverAuth",
);
const clientA = pki.issue(
  "client-a",
  "client-a",
  ["DNS:client-a.test", "URI:spiffe://portico.test/client-a"],
  "clientAuth",
);
const clientB = pki.issue("client-b", "client-b", ["DNS:client-b.test"], "clientAuth");
const revoked = pki.issue(
  "client-revoked",
  "client-revoked",
  ["DNS:client-a.test", "URI:spiffe://portico.test/client-a"],
  "clientAuth",
);
const rogue = rogueClient(pki.dir);
const crl = pki.crl([revoked]);

const upstream = new EchoUpstream();
let p: PorticoProcess;
let port: number;

beforeAll(async () => {
  await upstream.start();
  [port] = await freePorts(1);
  const yaml = `
listeners:
  - name: https
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - hosts: [optional.tls.test]
        tls: { mode: OPTIONAL_MUTUAL, credential: server }
      - hosts: [san.tls.test]
        tls: { mode: MUTUAL, credential: server, subjectAltNames: ["spiffe://portico.test/client-a"] }
      - hosts: [spki.tls.test]
        tls: { mode: MUTUAL, credential: server, verifyCertificateSpki: ["${spkiHash(clientA.crt)}"] }
      - hosts: [hash.tls.test]
        tls: { mode: MUTUAL, credential: server, verifyCertificateHash: ["${certHash(clientB.crt)}"] }
      - hosts: [crl.tls.test]
        tls: { mode: MUTUAL, credential: server, caCrl: ${crl} }
      - hosts: [v13.tls.test]
        tls: { credential: server, minProtocolVersion: TLSV1_3 }
      - hosts: [v12.tls.test]
        tls: { credential: server, maxProtocolVersion: TLSV1_2 }
      - hosts: [files.tls.test]
        tls: { mode: MUTUAL, serverCertificate: ${server.crt}, privateKey: ${server.key}, caCertificates: ${pki.ca.crt} }
      - hosts: [simple.tls.test]
        tls: { credential: server }
credentials:
  server: { cert: ${server.crt}, key: ${server.key}, ca: ${pki.ca.crt} }
services:
  echo: http://127.0.0.1:${upstream.port}
routes:
  - hosts: ["*"]
    http:
      - route: [{ destination: echo }]
`;
  p = await startPortico(writeConfig(yaml));
});
afterAll(async () => {
  await p?.stop();
  await upstream.stop();
});

const url = (host: string) => [
  `https://${host}:${port}/`,
  "--resolve",
  `${host}:${port}:127.0.0.1`,
  "--cacert",
  pki.ca.crt,
];
const withCert = (pem: Pem) => ["--cert", pem.crt, "--key", pem.key];

async function served(args: string[]) {
  const r = await curl(args);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(200);
  return JSON.parse(r.body).headers as Record<string, string>;
}

/** No HTTP response, and nothing reached the upstream. */
async function refused(args: string[]) {
  const before = upstream.count;
  const r = await curl(args);
  expect(r.status).toBe(0);
  expect(r.exitCode).not.toBe(0);
  expect(upstream.count).toBe(before);
  return r;
}

const sha256 = (pem: Pem) =>
  createHash("sha256")
    .update(new X509Certificate(readFileSync(pem.crt)).raw)
    .digest("hex");

describe("OPTIONAL_MUTUAL", () => {
  test("a client without a certificate is served, and no XFCC reaches the upstream", async () => {
    const r = await curl(["-v", ...url("optional.tls.test")]);
    expect(r.stderr).toContain("Request CERT");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).headers["x-forwarded-client-cert"]).toBeUndefined();
  });

  test("a client with a valid certificate is served, and XFCC carries it", async () => {
    const h = await served([...url("optional.tls.test"), ...withCert(clientA)]);
    expect(h["x-forwarded-client-cert"]).toContain(`Hash=${sha256(clientA)}`);
    expect(h["x-forwarded-client-cert"]).toContain("URI=spiffe://portico.test/client-a");
  });

  test("a certificate from an unknown CA is refused (it is verified when given)", async () => {
    for (let i = 0; i < 5; i++) await refused([...url("optional.tls.test"), ...withCert(rogue)]);
  });

  test("no certificate on the OPTIONAL_MUTUAL host cannot reach a MUTUAL host on the same port: 421", async () => {
    const r = await curl([...url("optional.tls.test"), "-H", "Host: san.tls.test"]);
    expect(r.status).toBe(421);
  });

  test("a verified OPTIONAL_MUTUAL identity cannot be carried to a SIMPLE host on the same port: 421", async () => {
    const r = await curl([...url("optional.tls.test"), ...withCert(clientA), "-H", "Host: simple.tls.test"]);
    expect(r.status).toBe(421);
  });
});

describe("checks beyond the chain", () => {
  test("subjectAltNames: a listed SAN is served, another certificate from the same CA is refused", async () => {
    const h = await served([...url("san.tls.test"), ...withCert(clientA)]);
    expect(h["x-forwarded-client-cert"]).toContain(`Hash=${sha256(clientA)}`);
    for (let i = 0; i < 5; i++) await refused([...url("san.tls.test"), ...withCert(clientB)]);
    await refused(url("san.tls.test"));
  });

  test("verifyCertificateSpki: the pinned key is served, another is refused", async () => {
    await served([...url("spki.tls.test"), ...withCert(clientA)]);
    await refused([...url("spki.tls.test"), ...withCert(clientB)]);
  });

  test("verifyCertificateHash (colon form, upper case): the pinned certificate is served, another is refused", async () => {
    await served([...url("hash.tls.test"), ...withCert(clientB)]);
    await refused([...url("hash.tls.test"), ...withCert(clientA)]);
  });

  test("caCrl: a revoked certificate is refused, an unrevoked one from the same CA is served", async () => {
    await served([...url("crl.tls.test"), ...withCert(clientA)]);
    for (let i = 0; i < 3; i++) await refused([...url("crl.tls.test"), ...withCert(revoked)]);
  });

  test("over HTTP/1.1 too", async () => {
    await served(["--http1.1", ...url("san.tls.test"), ...withCert(clientA)]);
    await refused(["--http1.1", ...url("san.tls.test"), ...withCert(clientB)]);
  });
});

describe("protocol versions", () => {
  test("minProtocolVersion TLSV1_3 refuses a TLS 1.2 client and serves TLS 1.3", async () => {
    const r = await refused(["--tls-max", "1.2", ...url("v13.tls.test")]);
    expect(r.exitCode).toBe(35);
    const ok = await curl(["-v", ...url("v13.tls.test")]);
    expect(ok.status).toBe(200);
    expect(ok.stderr).toContain("SSL connection using TLSv1.3");
  });

  test("maxProtocolVersion TLSV1_2 serves TLS 1.2 and refuses a TLS 1.3-only client", async () => {
    const ok = await curl(["-v", ...url("v12.tls.test")]);
    expect(ok.status).toBe(200);
    expect(ok.stderr).toContain("SSL connection using TLSv1.2");
    const r = await refused(["--tlsv1.3", ...url("v12.tls.test")]);
    expect(r.exitCode).toBe(35);
  });

  test("a server without limits on the same port still speaks TLS 1.3 and 1.2", async () => {
    expect((await curl(["-v", ...url("simple.tls.test")])).stderr).toContain("SSL connection using TLSv1.3");
    expect((await curl(["-v", "--tls-max", "1.2", ...url("simple.tls.test")])).stderr).toContain(
      "SSL connection using TLSv1.2",
    );
  });
});

describe("file form", () => {
  test("serverCertificate, privateKey and caCertificates instead of a credential", async () => {
    const r = await curl(["-v", ...url("files.tls.test"), ...withCert(clientA)]);
    expect(r.status).toBe(200);
    expect(r.stderr).toContain("CN=tls.test");
    await refused(url("files.tls.test"));
  });
});

describe("cipherSuites (TLS 1.2 only)", () => {
  const yaml = (cipherPort: number) => `
listeners:
  - name: ciphers
    address: 127.0.0.1
    port: ${cipherPort}
    protocol: HTTPS
    servers:
      - hosts: [ciphers.tls.test]
        tls: { credential: server, cipherSuites: [ECDHE-RSA-AES256-GCM-SHA384] }
credentials:
  server: { cert: ${server.crt}, key: ${server.key} }
services:
  echo: http://127.0.0.1:${upstream.port}
routes:
  - hosts: ["*"]
    http:
      - route: [{ destination: echo }]
`;

  // Deno's node:tls is rustls underneath and ignores `ciphers`; Portico refuses to start there.
  test.skipIf(RUNTIME === "deno")(
    "only the listed TLS 1.2 suite is negotiated; TLS 1.3 is unaffected",
    async () => {
      const [cipherPort] = await freePorts(1);
      const q = await startPortico(writeConfig(yaml(cipherPort!)));
      try {
        const u = [
          `https://ciphers.tls.test:${cipherPort}/`,
          "--resolve",
          `ciphers.tls.test:${cipherPort}:127.0.0.1`,
          "--cacert",
          pki.ca.crt,
        ];
        const ok = await curl(["-v", "--tls-max", "1.2", ...u]);
        expect(ok.status).toBe(200);
        expect(ok.stderr).toContain("ECDHE-RSA-AES256-GCM-SHA384");
        const other = await curl(["--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256", ...u]);
        expect(other.status).toBe(0);
        expect(other.exitCode).toBe(35);
        const v13 = await curl(["-v", ...u]);
        expect(v13.status).toBe(200);
        expect(v13.stderr).toContain("SSL connection using TLSv1.3");
      } finally {
        await q.stop();
      }
    },
  );

  test.if(RUNTIME === "deno")("on Deno, startup fails and says why", async () => {
    const [cipherPort] = await freePorts(1);
    const r = await runPortico(["run", "--admin", "off", "-c", writeConfig(yaml(cipherPort!))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'listener "ciphers" needs TLS 1.2 cipher suites per server (cipherSuites), which no adapter on deno can honour',
    );
  });
});
