// A Gateway's ServerTLSSettings beyond SIMPLE and MUTUAL, written as Istio YAML: the book's
// coolstore-gw-mtls.yaml with OPTIONAL_MUTUAL, subjectAltNames and minProtocolVersion, and a
// Gateway with file-path certificates next to it. The semantics are tested natively in
// tls-settings.test.ts; this checks that the Istio loader carries them over.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST_WEBAPP, book } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { TestPki } from "../helpers/pki.ts";
import { BOOK, ROOT, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { EchoUpstream } from "../helpers/upstreams.ts";

let upstream: EchoUpstream;
let upstreamPort: number;
beforeAll(async () => {
  upstream = await new EchoUpstream().start();
  upstreamPort = upstream.port;
});
afterAll(() => upstream?.stop());

const resolveTo = (host: string, port: number) => ["--resolve", `${host}:${port}:127.0.0.1`];
const headersOf = (body: string) => JSON.parse(body).headers as Record<string, string>;

describe("coolstore-gw-mtls.yaml with mode OPTIONAL_MUTUAL, subjectAltNames and minProtocolVersion TLSV1_3", () => {
  let p: PorticoProcess, https: number;
  const url = () => [
    `https://${HOST_WEBAPP}:${https}/api/catalog`,
    "--cacert",
    book.webappCaChain,
    ...resolveTo(HOST_WEBAPP, https),
  ];
  beforeAll(async () => {
    const [http, s] = await freePorts(2);
    https = s!;
    const gw = readFileSync(join(BOOK, "coolstore-gw-mtls.yaml"), "utf8").replace(
      "      mode: MUTUAL\n",
      "      mode: OPTIONAL_MUTUAL\n      subjectAltNames: [spiffe://istioinaction.io/ns/default/sa/webapp-client]\n      minProtocolVersion: TLSV1_3\n",
    );
    expect(gw).toContain("OPTIONAL_MUTUAL");
    const file = writeConfig(gw, "coolstore-gw-optional.yaml");
    p = await startPorticoWith([
      "run",
      "-c",
      file,
      "-c",
      join(BOOK, "coolstore-vs.yaml"),
      "--credentials",
      join(ROOT, "certs"),
      "--service",
      `webapp=http://127.0.0.1:${upstreamPort}`,
      "--port",
      `80=${http}`,
      "--port",
      `443=${https}`,
      "--bind",
      "127.0.0.1",
      "--admin",
      "off",
    ]);
  });
  afterAll(() => p?.stop());

  test("without a client certificate: served (OPTIONAL_MUTUAL), over TLS 1.3, no x-forwarded-client-cert upstream", async () => {
    const r = await curl(["-v", ...url()]);
    expect(r.status).toBe(200);
    expect(r.stderr).toContain("SSL connection using TLSv1.3");
    expect(headersOf(r.body)["x-forwarded-client-cert"]).toBeUndefined();
  });

  test("the book's client certificate chains to the CA but carries no listed SAN: no HTTP response", async () => {
    const r = await curl([...url(), "--cert", book.webappClientCert, "--key", book.webappClientKey]);
    expect(r.status).toBe(0);
  });

  test("a TLS 1.2 client: handshake refused", async () => {
    const r = await curl(["--tls-max", "1.2", ...url()]);
    expect(r.exitCode).toBe(35);
  });
});

describe("file-path certificates (serverCertificate, privateKey, caCertificates beside the YAML) with MUTUAL and subjectAltNames", () => {
  const HOST = "files.istio.test";
  const pki = new TestPki();
  pki.issue("server", HOST, [`DNS:${HOST}`], "serverAuth");
  const clientA = pki.issue("client-a", "client-a", ["URI:spiffe://portico.test/client-a"], "clientAuth");
  const clientB = pki.issue("client-b", "client-b", ["URI:spiffe://portico.test/client-b"], "clientAuth");
  let p: PorticoProcess, https: number;
  const url = () => [`https://${HOST}:${https}/`, "--cacert", pki.ca.crt, ...resolveTo(HOST, https)];
  beforeAll(async () => {
    [https] = await freePorts(1);
    const file = join(pki.dir, "gateway.yaml");
    writeFileSync(
      file,
      `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: files
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
    - ${HOST}
    tls:
      mode: MUTUAL
      serverCertificate: server.crt
      privateKey: server.key
      caCertificates: ca.crt
      subjectAltNames:
      - spiffe://portico.test/client-a
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: files
spec:
  hosts:
  - ${HOST}
  gateways:
  - files
  http:
  - route:
    - destination:
        host: echo
`,
    );
    p = await startPorticoWith([
      "run",
      "-c",
      file,
      "--service",
      `echo=http://127.0.0.1:${upstreamPort}`,
      "--port",
      `443=${https}`,
      "--bind",
      "127.0.0.1",
      "--admin",
      "off",
    ]);
  });
  afterAll(() => p?.stop());

  test("the listed client is served with the server certificate from the file, and its identity reaches the upstream", async () => {
    const r = await curl(["-v", ...url(), "--cert", clientA.crt, "--key", clientA.key]);
    expect(r.status).toBe(200);
    expect(r.stderr).toMatch(new RegExp(`subject: CN ?= ?${HOST.replaceAll(".", "\\.")}`));
    expect(headersOf(r.body)["x-forwarded-client-cert"]).toContain("URI=spiffe://portico.test/client-a");
  });

  test("a client of the same CA with another SAN, and one without a certificate: no HTTP response", async () => {
    expect((await curl([...url(), "--cert", clientB.crt, "--key", clientB.key])).status).toBe(0);
    expect((await curl(url())).status).toBe(0);
  });
});
