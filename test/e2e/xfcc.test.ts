// What upstreams learn of client certificates, per listener: Envoy's forwarding modes and
// details, and the plain x-client-cert-* headers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { startDemoUpstreams, type DemoUpstreams } from "../../scripts/demo-upstreams.ts";
import { HOST_WEBAPP, book, bookCredentials } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

let upstreams: DemoUpstreams;
let p: PorticoProcess;
let append: number, sanitize: number, plain: number;
const hash = new X509Certificate(readFileSync(book.webappClientCert)).fingerprint256
  .replaceAll(":", "")
  .toLowerCase();
const subject = "CN=webapp.istioinaction.io,O=Dis,L=Springfield,ST=Denial,C=US";

beforeAll(async () => {
  upstreams = await startDemoUpstreams();
  [append, sanitize, plain] = await freePorts(3);
  const listener = (name: string, port: number, extra: string) => `
  - name: ${name}
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
${extra}
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { mode: MUTUAL, credential: webapp-credential-mtls }`;
  const yaml = `listeners:${listener("append", append!, "    forwardClientCertDetails: APPEND_FORWARD\n    setCurrentClientCertDetails: [Subject, Cert]\n    clientCertHeaders: true")}${listener("sanitize", sanitize!, "    forwardClientCertDetails: SANITIZE")}
  - { name: plain, address: 127.0.0.1, port: ${plain}, protocol: HTTP, forwardClientCertDetails: ALWAYS_FORWARD_ONLY }
${bookCredentials}
services:
  webapp: http://127.0.0.1:${upstreams.webappPort}
routes:
  - hosts: ["*"]
    http:
      - route: [{ destination: webapp }]
`;
  p = await startPorticoWith(["run", "-c", writeConfig(yaml), "--admin", "off"]);
});
afterAll(async () => {
  await p?.stop();
  await upstreams?.close();
});

async function seen(port: number, extra: string[] = []): Promise<Record<string, string>> {
  const r = await curl([
    `https://${HOST_WEBAPP}:${port}/echo`,
    "--cacert",
    book.webappCaChain,
    "--resolve",
    `${HOST_WEBAPP}:${port}:127.0.0.1`,
    "--cert",
    book.webappClientCert,
    "--key",
    book.webappClientKey,
    ...extra,
  ]);
  expect(r.status).toBe(200);
  return JSON.parse(r.body).headers;
}

describe("per-listener client certificate forwarding", () => {
  test("APPEND_FORWARD with Subject and Cert: the client's XFCC, then ours", async () => {
    const h = await seen(append, ["-H", "x-forwarded-client-cert: By=spiffe://front;Hash=00"]);
    const [theirs, ours] = h["x-forwarded-client-cert"]!.split(",Hash=");
    expect(theirs).toBe("By=spiffe://front;Hash=00");
    expect(ours).toStartWith(`${hash};Cert="-----BEGIN%20CERTIFICATE-----%0A`);
    expect(ours).toEndWith(`";Subject="${subject}"`);
  });

  test("clientCertHeaders: plain headers, and a client's own are replaced", async () => {
    const h = await seen(append, ["-H", "x-client-cert-subject: CN=forged"]);
    expect(h["x-client-cert-subject"]).toBe(subject);
    expect(h["x-client-cert-sha256"]).toBe(hash);
    expect(h["x-client-cert-sans"]).toBe("");
  });

  test("SANITIZE: no XFCC at all, even one the client sent", async () => {
    const h = await seen(sanitize, ["-H", "x-forwarded-client-cert: Hash=00"]);
    expect(h["x-forwarded-client-cert"]).toBeUndefined();
    expect(h["x-client-cert-subject"]).toBeUndefined();
  });

  test("ALWAYS_FORWARD_ONLY on plain HTTP: the client's header as sent", async () => {
    const r = await curl([`http://127.0.0.1:${plain}/echo`, "-H", "x-forwarded-client-cert: Hash=11"]);
    expect(JSON.parse(r.body).headers["x-forwarded-client-cert"]).toBe("Hash=11");
  });

  test("the default (SANITIZE_SET) drops a forged XFCC on plain HTTP", async () => {
    const [port] = await freePorts(1);
    const q = await startPorticoWith([
      "run",
      "-c",
      writeConfig(
        `listeners:\n  - { name: h, address: 127.0.0.1, port: ${port}, protocol: HTTP }\nservices:\n  webapp: http://127.0.0.1:${upstreams.webappPort}\nroutes:\n  - hosts: ["*"]\n    http:\n      - route: [{ destination: webapp }]\n`,
      ),
      "--admin",
      "off",
    ]);
    try {
      const r = await curl([`http://127.0.0.1:${port}/echo`, "-H", "x-forwarded-client-cert: Hash=11"]);
      expect(JSON.parse(r.body).headers["x-forwarded-client-cert"]).toBeUndefined();
    } finally {
      await q.stop();
    }
  });
});
