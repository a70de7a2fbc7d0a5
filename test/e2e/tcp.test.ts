// TCP routing and TLS passthrough over real sockets, in the shape of the book's
// gateway-tcp.yaml + echo-vs.yaml and sni/passthrough-sni-gateway-both.yaml +
// sni/passthrough-sni-vs-{1,2}.yaml. Backends are real servers on loopback: a TCP echo, and two
// TLS servers terminating with the book's simple-sni-1 / simple-sni-2 certificates.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { connect } from "node:net";
import { join } from "node:path";
import { curl } from "../helpers/curl.ts";
import { exchange, freePorts, sleep } from "../helpers/net.ts";
import { BOOK, startPortico, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { TcpEchoServer } from "../helpers/upstreams.ts";

const SNI = join(BOOK, "sni");
const sni = (n: 1 | 2) => ({
  host: `simple-sni-${n}.istioinaction.io`,
  cert: join(SNI, `simple-sni-${n}/3_application/certs/simple-sni-${n}.istioinaction.io.cert.pem`),
  key: join(SNI, `simple-sni-${n}/3_application/private/simple-sni-${n}.istioinaction.io.key.pem`),
  caChain: join(SNI, `simple-sni-${n}/2_intermediate/certs/ca-chain.cert.pem`),
});

let echo: TcpEchoServer;
let echoB: TcpEchoServer;
let tls1: HttpsServer;
let tls2: HttpsServer;
let p: PorticoProcess;
let tcpPort: number, splitPort: number, downPort: number, sniPort: number, closedPort: number;

function tlsBackend(n: 1 | 2): Promise<HttpsServer> {
  const s = createHttpsServer(
    { cert: readFileSync(sni(n).cert), key: readFileSync(sni(n).key) },
    (req, res) => {
      res.setHeader("x-backend", `simple-tls-service-${n}`);
      res.end(`Hello from simple-tls-service-${n}!!!\n`);
    },
  );
  return new Promise((r) => s.listen(0, "127.0.0.1", () => r(s)));
}

const portOf = (s: { address(): unknown }) => (s.address() as { port: number }).port;

beforeAll(async () => {
  echo = await new TcpEchoServer().start();
  echoB = await new TcpEchoServer().start("B:");
  tls1 = await tlsBackend(1);
  tls2 = await tlsBackend(2);
  [tcpPort, splitPort, downPort, sniPort, closedPort] = await freePorts(5);
  const yaml = `
listeners:
  - name: tcp-echo                 # gateway-tcp.yaml
    address: 127.0.0.1
    port: ${tcpPort}
    protocol: TCP
    hosts: ["*"]
  - { name: tcp-split, address: 127.0.0.1, port: ${splitPort}, protocol: TCP }
  - { name: tcp-down, address: 127.0.0.1, port: ${downPort}, protocol: TCP }
  - name: sni-passthrough          # sni/passthrough-sni-gateway-both.yaml
    address: 127.0.0.1
    port: ${sniPort}
    protocol: TLS
    servers:
      - hosts: [${sni(1).host}]
        tls: { mode: PASSTHROUGH }
      - hosts: [${sni(2).host}]
        tls: { mode: PASSTHROUGH }
services:
  tcp-echo-service: tcp://127.0.0.1:${echo.port}
  echo-b: tcp://127.0.0.1:${echoB.port}
  down: tcp://127.0.0.1:${closedPort}
  simple-tls-service-1: tcp://127.0.0.1:${portOf(tls1)}
  simple-tls-service-2: https://127.0.0.1:${portOf(tls2)}   # any scheme: only host and port are used
routes:
  - hosts: ["*"]                   # echo-vs.yaml
    tcp:
      - match: [{ port: ${tcpPort} }]
        route: [{ destination: tcp-echo-service }]
      - match: [{ port: ${splitPort} }]
        route:
          - { destination: tcp-echo-service, weight: 50 }
          - { destination: echo-b, weight: 50 }
      - match: [{ port: ${downPort} }]
        route: [{ destination: down }]
  - hosts: [${sni(1).host}]        # sni/passthrough-sni-vs-1.yaml
    tls:
      - match: [{ port: ${sniPort}, sniHosts: [${sni(1).host}] }]
        route: [{ destination: simple-tls-service-1 }]
  - hosts: [${sni(2).host}]        # sni/passthrough-sni-vs-2.yaml
    tls:
      - match: [{ port: ${sniPort}, sniHosts: [${sni(2).host}] }]
        route: [{ destination: simple-tls-service-2 }]
`;
  p = await startPortico(writeConfig(yaml));
});
afterAll(async () => {
  await p?.stop();
  await echo?.stop();
  await echoB?.stop();
  tls1?.closeAllConnections();
  tls2?.closeAllConnections();
  tls1?.close();
  tls2?.close();
});

describe("TCP routing", () => {
  test("bytes go to the service and come back; the listener is served by node-tcp", async () => {
    expect(p.output()).toContain(`listener tcp-echo on 127.0.0.1:${tcpPort} TCP [node-tcp]`);
    const r = await exchange(tcpPort, "hello, echo", { halfClose: false, bytes: 11 });
    expect(r.data.toString()).toBe("hello, echo");
  });

  test("half-close: the client's FIN reaches the service, whose answer still comes back before its own FIN", async () => {
    const r = await exchange(tcpPort, "ping");
    expect(r.how).toBe("end");
    expect(r.data.toString()).toBe("ping4 bytes, bye");
  });

  test("a large payload arrives intact, with backpressure both ways", async () => {
    const payload = randomBytes(8 * 1024 * 1024);
    const r = await exchange(tcpPort, payload, { timeoutMs: 20_000 });
    expect(r.how).toBe("end");
    const echoed = r.data.subarray(0, payload.length);
    expect(createHash("sha256").update(echoed).digest("hex")).toBe(
      createHash("sha256").update(payload).digest("hex"),
    );
    expect(r.data.subarray(payload.length).toString()).toBe(`${payload.length} bytes, bye`);
  });

  test("many connections at once", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => exchange(tcpPort, `c${i}`)));
    results.forEach((r, i) => expect(r.data.toString()).toBe(`c${i}${String(i).length + 1} bytes, bye`));
  });

  test("weighted destinations: both services get connections", async () => {
    const results = await Promise.all(Array.from({ length: 40 }, () => exchange(splitPort, "x")));
    const b = results.filter((r) => r.data.toString() === "xB:1 bytes, bye").length;
    const a = results.filter((r) => r.data.toString() === "x1 bytes, bye").length;
    expect(a + b).toBe(40);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });

  test("a service that refuses: the client's connection is closed, with nothing sent", async () => {
    const r = await exchange(downPort, "anyone?", { halfClose: false });
    expect(r.data.length).toBe(0);
    expect(["end", "close", "ECONNRESET", "EPIPE"]).toContain(r.how);
    // The log line may land just after the client saw the close: wait for it, bounded.
    for (let i = 0; i < 100 && !p.output().includes(`cannot connect to 127.0.0.1:${closedPort}`); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(p.output()).toContain(`cannot connect to 127.0.0.1:${closedPort}`);
  });

  test("a client that resets closes the service side too", async () => {
    const before = echo.connections;
    const sock = connect({ host: "127.0.0.1", port: tcpPort });
    await new Promise((r) => sock.once("connect", r));
    sock.write("x");
    await sleep(100);
    expect(echo.connections).toBe(before + 1);
    expect(echo.open.size).toBeGreaterThan(0);
    sock.resetAndDestroy();
    const deadline = Date.now() + 2_000;
    while (echo.open.size > 0 && Date.now() < deadline) await sleep(20);
    expect(echo.open.size).toBe(0);
  });
});

describe("TLS passthrough by SNI", () => {
  const resolve = (host: string) => ["--resolve", `${host}:${sniPort}:127.0.0.1`];

  for (const n of [1, 2] as const) {
    test(`${sni(n).host}: the backend's own certificate and response, verified with its CA`, async () => {
      const r = await curl([
        "-v",
        `https://${sni(n).host}:${sniPort}/`,
        ...resolve(sni(n).host),
        "--cacert",
        sni(n).caChain,
      ]);
      expect(r.exitCode).toBe(0);
      expect(r.status).toBe(200);
      expect(r.body).toBe(`Hello from simple-tls-service-${n}!!!\n`);
      expect(r.headers.get("x-backend")).toBe(`simple-tls-service-${n}`);
      // Portico adds nothing: the TLS session is the backend's.
      expect(r.headers.get("server")).toBeUndefined();
      expect(r.stderr).toContain(`CN=simple-sni-${n}.istioinaction.io`);
    });
  }

  test("the other backend's CA does not verify: the certificate really is the backend's", async () => {
    const r = await curl([
      `https://${sni(1).host}:${sniPort}/`,
      ...resolve(sni(1).host),
      "--cacert",
      sni(2).caChain,
    ]);
    expect(r.exitCode).toBe(60);
  });

  test("an SNI no server lists is refused", async () => {
    const r = await curl([
      "-k",
      `https://simple-sni-3.istioinaction.io:${sniPort}/`,
      ...resolve("simple-sni-3.istioinaction.io"),
    ]);
    expect(r.status).toBe(0);
    expect(r.exitCode).toBe(35);
  });

  test("a ClientHello without SNI is refused", async () => {
    const r = await curl(["-k", `https://127.0.0.1:${sniPort}/`]);
    expect(r.status).toBe(0);
    expect(r.exitCode).toBe(35);
  });

  test("something that is not TLS is refused: Portico closes the connection at once, sending nothing", async () => {
    // Well under the runner's 5 s: a listener that left the connection open would time out here.
    const r = await exchange(sniPort, "GET / HTTP/1.1\r\nhost: x\r\n\r\n", {
      halfClose: false,
      timeoutMs: 3_000,
    });
    expect(r.how).not.toBe("timeout");
    expect(r.ms).toBeLessThan(1_000);
    expect(r.data.length).toBe(0);
  });

  test("a stalled ClientHello is closed after 10 s, and others are served meanwhile", async () => {
    const start = Date.now();
    const stalled = exchange(sniPort, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), {
      halfClose: false,
      timeoutMs: 14_000,
    });
    const ok = await curl([
      `https://${sni(1).host}:${sniPort}/`,
      ...resolve(sni(1).host),
      "--cacert",
      sni(1).caChain,
    ]);
    expect(ok.status).toBe(200);
    const r = await stalled;
    expect(r.how).not.toBe("timeout");
    expect(Date.now() - start).toBeGreaterThanOrEqual(9_500);
  }, 20_000);
});

describe("shutdown", () => {
  test("open TCP connections are closed when Portico stops", async () => {
    const [port] = await freePorts(1);
    const q = await startPortico(
      writeConfig(`
listeners: [{ name: tcp, address: 127.0.0.1, port: ${port}, protocol: TCP }]
services: { echo: "tcp://127.0.0.1:${echo.port}" }
routes: [{ hosts: ["*"], tcp: [{ route: [{ destination: echo }] }] }]
`),
    );
    const sock = connect({ host: "127.0.0.1", port });
    await new Promise((r) => sock.once("connect", r));
    sock.write("hold");
    await sleep(100);
    const closed = new Promise<number>((r) => sock.once("close", () => r(Date.now())));
    sock.on("error", () => {});
    sock.resume(); // "end", then "close", only come once what was received is read
    const stopAt = Date.now();
    expect(await q.stop()).toBe(0);
    expect((await closed) - stopAt).toBeLessThan(4_000);
  }, 15_000);
});
