// The book's TCP and SNI-passthrough files ("Istio in Action" ch. 4), loaded unchanged:
// gateway-tcp.yaml + echo-vs.yaml, and sni/passthrough-sni-gateway{,-both}.yaml +
// sni/passthrough-sni-vs-{1,2}.yaml (+ the book's simple-tls-service-{1,2}.yaml, Kubernetes
// objects Portico skips). Backends are real servers on loopback: a TCP echo, and two TLS
// servers terminating with the book's simple-sni-1 / simple-sni-2 certificates.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { join } from "node:path";
import { curl } from "../helpers/curl.ts";
import { exchange, freePorts } from "../helpers/net.ts";
import { BOOK, runPortico, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { TcpEchoServer } from "../helpers/upstreams.ts";

const fx = (name: string) => join(BOOK, name);
const SNI = join(BOOK, "sni");
const sni = (n: 1 | 2) => ({
  host: `simple-sni-${n}.istioinaction.io`,
  cert: join(SNI, `simple-sni-${n}/3_application/certs/simple-sni-${n}.istioinaction.io.cert.pem`),
  // PKCS#1 RSA keys, unencrypted.
  key: join(SNI, `simple-sni-${n}/3_application/private/simple-sni-${n}.istioinaction.io.key.pem`),
  caChain: join(SNI, `simple-sni-${n}/2_intermediate/certs/ca-chain.cert.pem`),
});

/** fake-service's answer in the book: "Hello from simple-tls-service-N!!!". */
function tlsBackend(n: 1 | 2): Promise<HttpsServer> {
  const s = createHttpsServer(
    { cert: readFileSync(sni(n).cert), key: readFileSync(sni(n).key) },
    (_req, res) => {
      res.end(`Hello from simple-tls-service-${n}!!!\n`);
    },
  );
  return new Promise((r) => s.listen(0, "127.0.0.1", () => r(s)));
}

const portOf = (s: { address(): unknown }) => (s.address() as { port: number }).port;
const run = (files: string[], extra: string[]) =>
  startPorticoWith([
    "run",
    ...files.flatMap((f) => ["-c", f]),
    "--bind",
    "127.0.0.1",
    "--admin",
    "off",
    ...extra,
  ]);

let echo: TcpEchoServer;
let tls1: HttpsServer;
let tls2: HttpsServer;
beforeAll(async () => {
  echo = await new TcpEchoServer().start();
  tls1 = await tlsBackend(1);
  tls2 = await tlsBackend(2);
});
afterAll(async () => {
  await echo?.stop();
  for (const s of [tls1, tls2]) {
    s?.closeAllConnections();
    s?.close();
  }
});

describe("gateway-tcp.yaml + echo-vs.yaml", () => {
  let p: PorticoProcess, port: number;
  beforeAll(async () => {
    [port] = await freePorts(1);
    p = await run(
      [fx("gateway-tcp.yaml"), fx("echo-vs.yaml")],
      ["--service", `tcp-echo-service=tcp://127.0.0.1:${echo.port}`, "--port", `31400=${port}`],
    );
  });
  afterAll(() => p?.stop());

  test("a TCP listener on the mapped port, served by node-tcp, routed to the echo service", () => {
    expect(p.output()).toContain(
      `listener echo-tcp-gateway-31400 on 127.0.0.1:${port} TCP [node-tcp]: to tcp-echo-service 127.0.0.1:${echo.port}`,
    );
  });

  test("what the client writes comes back (the book's telnet session)", async () => {
    const r = await exchange(port, "hello world\n", { halfClose: false, bytes: 12 });
    expect(r.data.toString()).toBe("hello world\n");
  });

  test("the client's half-close reaches the echo, whose last words still come back", async () => {
    const r = await exchange(port, "ping");
    expect(r.how).toBe("end");
    expect(r.data.toString()).toBe("ping4 bytes, bye");
  });
});

describe("sni/passthrough-sni-gateway-both.yaml + passthrough-sni-vs-1.yaml + passthrough-sni-vs-2.yaml (+ simple-tls-service-{1,2}.yaml)", () => {
  let p: PorticoProcess, port: number;
  const resolveTo = (host: string) => ["--resolve", `${host}:${port}:127.0.0.1`];
  beforeAll(async () => {
    [port] = await freePorts(1);
    const files = [
      "passthrough-sni-gateway-both.yaml",
      "passthrough-sni-vs-1.yaml",
      "passthrough-sni-vs-2.yaml",
      "simple-tls-service-1.yaml",
      "simple-tls-service-2.yaml",
    ].map((f) => join(SNI, f));
    p = await run(files, [
      "--service",
      `simple-tls-service-1=https://127.0.0.1:${portOf(tls1)}`,
      "--service",
      `simple-tls-service-2=https://127.0.0.1:${portOf(tls2)}`,
      "--port",
      `31400=${port}`,
    ]);
  });
  afterAll(() => p?.stop());

  test("the Kubernetes Services and Deployments are skipped with a notice", () => {
    for (const n of [1, 2]) {
      expect(p.output()).toContain(
        `simple-tls-service-${n}.yaml:2: Service "simple-tls-service-${n}" ignored (only Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and Secret are read)`,
      );
      expect(p.output()).toContain(
        `simple-tls-service-${n}.yaml:17: Deployment "simple-tls-service-${n}" ignored (only Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and Secret are read)`,
      );
    }
    expect(p.output()).toContain(
      `listener sni-passthrough-gateway-31400 on 127.0.0.1:${port} TLS [node-tcp]: ` +
        "simple-sni-1.istioinaction.io,simple-sni-2.istioinaction.io (passthrough by SNI)",
    );
  });

  for (const n of [1, 2] as const) {
    test(`curl https://${sni(n).host}: the backend's own certificate (verified with its CA chain) and response`, async () => {
      const r = await curl([
        "-v",
        `https://${sni(n).host}:${port}/`,
        ...resolveTo(sni(n).host),
        "--cacert",
        sni(n).caChain,
      ]);
      expect(r.exitCode).toBe(0);
      expect(r.status).toBe(200);
      expect(r.body).toBe(`Hello from simple-tls-service-${n}!!!\n`);
      expect(r.stderr).toMatch(new RegExp(`subject: .*CN ?= ?simple-sni-${n}\\.istioinaction\\.io`));
      // Nothing of Portico's: the TLS session and the HTTP exchange are the backend's.
      expect(r.headers.get("server")).toBeUndefined();
    });
  }

  test("an SNI name no server lists is refused", async () => {
    const r = await curl([
      "-k",
      `https://simple-sni-3.istioinaction.io:${port}/`,
      ...resolveTo("simple-sni-3.istioinaction.io"),
    ]);
    expect(r.status).toBe(0);
    expect(r.exitCode).toBe(35);
  });
});

describe("sni/passthrough-sni-gateway.yaml (simple-sni-1 only) + passthrough-sni-vs-1.yaml", () => {
  let p: PorticoProcess, port: number;
  const resolveTo = (host: string) => ["--resolve", `${host}:${port}:127.0.0.1`];
  beforeAll(async () => {
    [port] = await freePorts(1);
    p = await run(
      [join(SNI, "passthrough-sni-gateway.yaml"), join(SNI, "passthrough-sni-vs-1.yaml")],
      ["--service", `simple-tls-service-1=https://127.0.0.1:${portOf(tls1)}`, "--port", `31400=${port}`],
    );
  });
  afterAll(() => p?.stop());

  test("simple-sni-1 reaches its backend; simple-sni-2 is not passed through by this Gateway", async () => {
    const one = await curl([
      `https://${sni(1).host}:${port}/`,
      ...resolveTo(sni(1).host),
      "--cacert",
      sni(1).caChain,
    ]);
    expect(one.body).toBe("Hello from simple-tls-service-1!!!\n");
    const two = await curl([
      `https://${sni(2).host}:${port}/`,
      ...resolveTo(sni(2).host),
      "--cacert",
      sni(2).caChain,
    ]);
    expect(two.status).toBe(0);
    expect(two.exitCode).toBe(35);
  });
});

describe("what Portico does not do is an error with file, line and field", () => {
  test("a TLS server that would terminate TLS and forward TCP; several certificates per server", async () => {
    const gw = writeConfig(
      `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: terminate-then-tcp
spec:
  servers:
  - port:
      number: 31400
      name: tls
      protocol: TLS
    hosts:
    - "*"
    tls:
      mode: SIMPLE
      credentialName: webapp-credential
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
    - webapp.istioinaction.io
    tls:
      mode: SIMPLE
      credentialNames: [webapp-rsa, webapp-ecdsa]
`,
      "gateway.yaml",
    );
    const r = await runPortico(["validate", "-c", gw]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${gw}:14: spec.servers[0].tls.mode: expected PASSTHROUGH, got SIMPLE: mode SIMPLE on a TLS server terminates TLS and forwards the decrypted bytes to tcp routes, which Portico does not support`,
    );
    expect(r.stderr).toContain(
      `${gw}:24: spec.servers[1].tls.credentialNames: field "credentialNames" is not supported by Portico: several certificates per server (RSA and ECDSA, say) are not supported; give one with credentialName`,
    );
  });

  test("a tcp route matching on source labels", async () => {
    const vs = writeConfig(
      readFileSync(fx("echo-vs.yaml"), "utf8").replace(
        "    - port: 31400",
        "    - port: 31400\n      sourceLabels: { app: sleep }",
      ),
      "echo-vs.yaml",
    );
    const r = await runPortico([
      "validate",
      "-c",
      fx("gateway-tcp.yaml"),
      "-c",
      vs,
      "--service",
      "tcp-echo-service=http://127.0.0.1:2701",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${vs}:13: spec.tcp[0].match[0].sourceLabels: field "sourceLabels" is not supported by Portico: Portico is an edge proxy; connections do not come from labelled workloads`,
    );
  });
});
