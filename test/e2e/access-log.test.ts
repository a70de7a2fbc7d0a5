// The access log through real sockets: one line per request and per TCP / passthrough
// connection, with the fields and Envoy's response flags of each path (proxied, redirect, direct
// response, no route, upstream refused, upstream timeout, mutual TLS with a client certificate,
// WebSocket tunnel, TCP, passthrough); the text format and a file; `--access-log off`; and
// Istio's switches (IstioOperator meshConfig, Telemetry) turning it on and off.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { WebSocket } from "ws";
import { curl } from "../helpers/curl.ts";
import { exchange, freePorts, sleep } from "../helpers/net.ts";
import { TestPki } from "../helpers/pki.ts";
import { RUNTIME, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { EchoUpstream, TcpEchoServer } from "../helpers/upstreams.ts";

type Line = Record<string, unknown>;
type Ports = [number, number, number, number, number, number, number, number];

const pki = new TestPki();
const server = pki.issue("server", "app.test", ["DNS:app.test", "DNS:pass.test"], "serverAuth");
const client = pki.issue(
  "client",
  "client-one",
  ["URI:spiffe://cluster.local/ns/shop/sa/client"],
  "clientAuth",
);

let up: EchoUpstream;
let echo: TcpEchoServer;
let tlsBackend: HttpsServer;
let p: PorticoProcess;
let web: number, mtls: number, simple: number, tcp: number, tcpDown: number, pass: number, closed: number;
/** A listener behind one trusted proxy (numTrustedProxies: 1). */
let trusted: number;

/** The JSON access-log lines Portico printed so far. */
function lines(proc: PorticoProcess): Line[] {
  return proc
    .output()
    .split("\n")
    .filter((l) => l.startsWith('{"start_time"'))
    .map((l) => JSON.parse(l) as Line);
}

/** The first line matching `pick`, waiting for the writer's flush (bounded). */
async function lineFor(proc: PorticoProcess, pick: (l: Line) => boolean, ms = 3_000): Promise<Line> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = lines(proc).find(pick);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no access-log line matched; output:\n${proc.output()}`);
    await sleep(25);
  }
}

// requestTarget whatwg: Bun.serve (bun-sni) takes the SIMPLE listener on Bun, so its
// responseEnd (a counting body) is what the HTTP/2 test checks there.
const routesYaml = () => `
settings: { requestTarget: whatwg, preserveExternalRequestId: true }
listeners:
  - { name: web, address: 127.0.0.1, port: ${web}, protocol: HTTP }
  - { name: trusted, address: 127.0.0.1, port: ${trusted}, protocol: HTTP, numTrustedProxies: 1 }
  - name: mtls
    address: 127.0.0.1
    port: ${mtls}
    protocol: HTTPS
    servers:
      - hosts: [app.test]
        tls: { mode: MUTUAL, credential: app }
  - name: simple
    address: 127.0.0.1
    port: ${simple}
    protocol: HTTPS
    servers:
      - hosts: [app.test]
        tls: { mode: SIMPLE, credential: app-simple }
  - { name: tcp, address: 127.0.0.1, port: ${tcp}, protocol: TCP }
  - { name: tcp-down, address: 127.0.0.1, port: ${tcpDown}, protocol: TCP }
  - name: pass
    address: 127.0.0.1
    port: ${pass}
    protocol: TLS
    servers:
      - hosts: [pass.test, other.test]
        tls: { mode: PASSTHROUGH }
credentials:
  app: { cert: ${server.crt}, key: ${server.key}, ca: ${pki.ca.crt} }
  app-simple: { cert: ${server.crt}, key: ${server.key} }
services:
  up: http://127.0.0.1:${up.port}
  down: http://127.0.0.1:${closed}
  echo: tcp://127.0.0.1:${echo.port}
  tcp-down: tcp://127.0.0.1:${closed}
  tls-backend: tcp://127.0.0.1:${(tlsBackend.address() as { port: number }).port}
routes:
  - hosts: [tcp.internal]
    tcp:
      - match: [{ port: ${tcp} }]
        route: [{ destination: echo }]
      - match: [{ port: ${tcpDown} }]
        route: [{ destination: tcp-down }]
  - hosts: [pass.test]
    tls:
      - match: [{ port: ${pass}, sniHosts: [pass.test] }]
        route: [{ destination: tls-backend }]
  - hosts: ["app.test", "*.example"]
    http:
      - name: direct
        match: [{ uri: { prefix: /direct } }]
        directResponse: { status: 200, body: "hello" }
      - name: moved
        match: [{ uri: { prefix: /old } }]
        redirect: { uri: /new, redirectCode: 301 }
      - name: refused
        match: [{ uri: { prefix: /down } }]
        route: [{ destination: down }]
      - name: slow
        match: [{ uri: { prefix: /hang } }]
        timeout: 300ms
        route: [{ destination: up }]
      - name: retrying
        match: [{ uri: { prefix: /flaky } }]
        retries: { attempts: 2, retryOn: 5xx }
        route: [{ destination: up }]
      - name: app
        match: [{ uri: { prefix: /app } }, { uri: { prefix: /ws } }]
        route: [{ destination: up }]
`;

beforeAll(async () => {
  up = await new EchoUpstream().start();
  echo = await new TcpEchoServer().start();
  tlsBackend = createHttpsServer({ cert: readFileSync(server.crt), key: readFileSync(server.key) }, (_q, s) =>
    s.end("backend\n"),
  );
  await new Promise<void>((r) => tlsBackend.listen(0, "127.0.0.1", r));
  [web, mtls, simple, tcp, tcpDown, pass, closed, trusted] = (await freePorts(8)) as Ports;
  p = await startPorticoWith(["run", "-c", writeConfig(routesYaml()), "--admin", "off"]);
});

afterAll(async () => {
  await p?.stop();
  await up?.stop();
  await echo?.stop();
  tlsBackend?.closeAllConnections();
  await new Promise((r) => tlsBackend?.close(r));
});

const get = (path: string, extra: string[] = []) =>
  curl([`http://127.0.0.1:${web}${path}`, "-H", "host: app.test", "-A", "al-test/1", ...extra]);

describe("one JSON line per HTTP request", () => {
  test("proxied 200: upstream host, service, service time, request id, route, vhost, bytes", async () => {
    const r = await get("/app/x?q=1", ["-H", "x-request-id: rid-200", "--data-binary", "abcdefgh"]);
    expect(r.status).toBe(200);
    const l = await lineFor(p, (l) => l.request_id === "rid-200");
    expect(l).toMatchObject({
      method: "POST",
      path: "/app/x?q=1",
      protocol: "HTTP/1.1",
      response_code: 200,
      response_flags: "-",
      bytes_received: 8,
      bytes_sent: Buffer.byteLength(r.body),
      authority: "app.test",
      upstream_host: `127.0.0.1:${up.port}`,
      upstream_cluster: "up",
      route_name: "app",
      vhost: "app.test",
      listener: "web",
      user_agent: "al-test/1",
      downstream_remote_address: "127.0.0.1",
      retries: 0,
    });
    expect(l.upstream_service_time).toBeNumber();
    expect(l.duration).toBeNumber();
    expect(Date.parse(l.start_time as string)).toBeGreaterThan(Date.now() - 60_000);
  });

  test("the client address: x-forwarded-for's trusted entry behind a trusted proxy; the peer as the direct address", async () => {
    const xff = ["-H", "x-forwarded-for: 203.0.113.9, 198.51.100.2"];
    await curl([
      `http://127.0.0.1:${trusted}/app/t`,
      "-H",
      "host: app.test",
      "-H",
      "x-request-id: rid-xff",
      ...xff,
    ]);
    expect(await lineFor(p, (l) => l.request_id === "rid-xff")).toMatchObject({
      listener: "trusted",
      downstream_remote_address: "198.51.100.2",
      downstream_direct_remote_address: "127.0.0.1",
      x_forwarded_for: "203.0.113.9, 198.51.100.2",
    });
    // Without trust, the client's own header names nobody.
    await get("/app/u", ["-H", "x-request-id: rid-untrusted", ...xff]);
    expect(await lineFor(p, (l) => l.request_id === "rid-untrusted")).toMatchObject({
      downstream_remote_address: "127.0.0.1",
      downstream_direct_remote_address: "127.0.0.1",
    });
  });

  test("retries: counted; URX when they run out", async () => {
    expect((await get("/flaky?key=a&fail=1", ["--data-binary", "12345"])).status).toBe(200);
    expect((await get("/flaky?key=b&fail=9")).status).toBe(503);
    const once = await lineFor(p, (l) => l.path === "/flaky?key=a&fail=1");
    expect(once).toMatchObject({ response_code: 200, retries: 1, response_flags: "-", bytes_received: 5 });
    const out = await lineFor(p, (l) => l.path === "/flaky?key=b&fail=9");
    expect(out).toMatchObject({ response_code: 503, retries: 2, response_flags: "URX" });
  });

  test("redirect 301 and direct response: no upstream, the route's name", async () => {
    expect((await get("/old/page")).status).toBe(301);
    expect((await get("/direct")).status).toBe(200);
    const moved = await lineFor(p, (l) => l.path === "/old/page");
    expect(moved).toMatchObject({ response_code: 301, route_name: "moved", upstream_host: null });
    const direct = await lineFor(p, (l) => l.path === "/direct");
    expect(direct).toMatchObject({ response_code: 200, route_name: "direct", bytes_sent: 5 });
  });

  test("404 with NR: no route for the path, and no virtual host for the name", async () => {
    expect((await get("/nowhere")).status).toBe(404);
    const l = await lineFor(p, (l) => l.path === "/nowhere");
    expect(l).toMatchObject({ response_code: 404, response_flags: "NR", route_name: null });
    const other = await curl([`http://127.0.0.1:${web}/x-other`, "-H", "host: nobody.test"]);
    expect(other.status).toBe(404);
    expect(await lineFor(p, (l) => l.path === "/x-other")).toMatchObject({
      response_flags: "NR",
      vhost: null,
    });
  });

  test("a wildcard virtual host is logged as configured", async () => {
    await curl([`http://127.0.0.1:${web}/app/wild`, "-H", "host: shop.example"]);
    expect(await lineFor(p, (l) => l.path === "/app/wild")).toMatchObject({ vhost: "*.example" });
  });

  test("503 with UF: the upstream refuses the connection", async () => {
    expect((await get("/down")).status).toBe(503);
    const l = await lineFor(p, (l) => l.path === "/down");
    expect(l).toMatchObject({
      response_code: 503,
      response_flags: "UF",
      upstream_host: `127.0.0.1:${closed}`,
      upstream_cluster: "down",
    });
  });

  test("504 with UT: no answer within the route timeout", async () => {
    expect((await get("/hang")).status).toBe(504);
    const l = await lineFor(p, (l) => l.path === "/hang");
    expect(l).toMatchObject({ response_code: 504, response_flags: "UT", upstream_cluster: "up" });
    expect(l.duration as number).toBeGreaterThanOrEqual(290);
  });

  test("the client leaves before the answer: code 0 and DC", async () => {
    const r = await get("/hang/gone", ["--max-time", "0.1"]);
    expect(r.exitCode).toBe(28);
    const l = await lineFor(p, (l) => l.path === "/hang/gone");
    expect(l).toMatchObject({ response_code: 0, bytes_sent: 0, route_name: "slow" });
    expect(l.response_flags as string).toContain("DC");
  });

  test("mutual TLS: the client certificate's subject and URI SAN, the SNI", async () => {
    const r = await curl([
      `https://app.test:${mtls}/app/mtls`,
      "--resolve",
      `app.test:${mtls}:127.0.0.1`,
      "--cacert",
      pki.ca.crt,
      "--cert",
      client.crt,
      "--key",
      client.key,
    ]);
    expect(r.status).toBe(200);
    const l = await lineFor(p, (l) => l.path === "/app/mtls");
    expect(l).toMatchObject({
      listener: "mtls",
      requested_server_name: "app.test",
      peer_subject: "CN=client-one",
      peer_uri_san: "spiffe://cluster.local/ns/shop/sa/client",
    });
    expect(["HTTP/1.1", "HTTP/2"]).toContain(l.protocol as string);
    expect(l.protocol).toBe(r.httpVersion === "2" ? "HTTP/2" : "HTTP/1.1");
  });

  test("HTTP/2 over TLS (Bun.serve on Bun): the protocol, the SNI, the body bytes sent", async () => {
    const r = await curl([
      `https://app.test:${simple}/app/h2`,
      "--http2",
      "--resolve",
      `app.test:${simple}:127.0.0.1`,
      "--cacert",
      pki.ca.crt,
    ]);
    expect(r.status).toBe(200);
    expect(r.httpVersion).toBe("2");
    if (RUNTIME === "bun") expect(p.output()).toContain("[bun-sni]");
    const l = await lineFor(p, (l) => l.path === "/app/h2");
    expect(l).toMatchObject({
      listener: "simple",
      protocol: "HTTP/2",
      requested_server_name: "app.test",
      bytes_sent: Buffer.byteLength(r.body),
      response_flags: "-",
    });
  });

  test("WebSocket: one line when the tunnel closes, 101, bytes both ways, DC (client cut it)", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${web}/ws/chat`, { headers: { host: "app.test" } });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const echoed = new Promise((r) => ws.once("message", r));
    ws.send("x".repeat(1000));
    await echoed;
    await sleep(100);
    expect(lines(p).some((l) => l.path === "/ws/chat")).toBe(false);
    // Cut, not a close handshake: after one, the upstream closes first (RFC 6455 §7.1.1).
    ws.terminate();
    const l = await lineFor(p, (l) => l.path === "/ws/chat");
    expect(l).toMatchObject({ response_code: 101, response_flags: "DC", route_name: "app" });
    expect(l.bytes_sent as number).toBeGreaterThan(1000);
    expect(l.bytes_received as number).toBeGreaterThan(1000);
  });
});

describe("one line per TCP and passthrough connection", () => {
  test("TCP: bytes both ways, the backend, no flag", async () => {
    const e = await exchange(tcp, "hello tcp");
    expect(e.data.toString()).toBe("hello tcp9 bytes, bye");
    const l = await lineFor(p, (l) => l.listener === "tcp" && l.kind === "tcp");
    expect(l).toMatchObject({
      bytes_received: 9,
      bytes_sent: 21,
      upstream_host: `127.0.0.1:${echo.port}`,
      upstream_cluster: "echo",
      response_flags: "-",
    });
  });

  test("TCP to a backend that refuses: UF", async () => {
    const e = await exchange(tcpDown, "x");
    expect(e.data.length).toBe(0);
    const l = await lineFor(p, (l) => l.listener === "tcp-down");
    expect(l).toMatchObject({ response_flags: "UF", upstream_host: `127.0.0.1:${closed}`, bytes_sent: 0 });
  });

  test("passthrough: the SNI and the backend; NR for a listed name no route takes", async () => {
    const r = await curl([
      `https://pass.test:${pass}/`,
      "--resolve",
      `pass.test:${pass}:127.0.0.1`,
      "--cacert",
      pki.ca.crt,
    ]);
    expect(r.body).toBe("backend\n");
    const l = await lineFor(
      p,
      (l) => l.kind === "tls-passthrough" && l.requested_server_name === "pass.test",
    );
    expect(l).toMatchObject({ listener: "pass", upstream_cluster: "tls-backend" });
    // curl may reset after its close_notify (DC); never a failure of the backend.
    expect(["-", "DC"]).toContain(l.response_flags as string);
    expect(l.bytes_received as number).toBeGreaterThan(100);
    expect(l.bytes_sent as number).toBeGreaterThan(100);
    // other.test is a server host with no tls route: the connection is closed, logged NR.
    await new Promise<void>((resolve) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port: pass,
        servername: "other.test",
        rejectUnauthorized: false,
      });
      s.on("error", () => resolve());
      s.on("close", () => resolve());
    });
    const nr = await lineFor(p, (l) => l.requested_server_name === "other.test");
    expect(nr).toMatchObject({ response_flags: "NR", upstream_host: null });
  });
});

describe("where the log goes", () => {
  const simple = (port: number, extra = "") =>
    writeConfig(`
listeners:
  - { name: web, address: 127.0.0.1, port: ${port}, protocol: HTTP }
${extra}
routes:
  - hosts: ["*"]
    http:
      - name: direct
        directResponse: { status: 200, body: "ok" }
`);

  test("--access-log off beats settings.accessLog: no line", async () => {
    const [port] = await freePorts(1);
    const file = simple(port!, "settings: { accessLog: stdout }");
    const q = await startPorticoWith(["run", "-c", file, "--admin", "off", "--access-log", "off"]);
    try {
      expect((await curl([`http://127.0.0.1:${port}/off`])).status).toBe(200);
      await sleep(400);
      expect(q.output()).not.toContain("/off");
    } finally {
      await q.stop();
    }
  });

  test("a file in the text format (settings.accessLog), flushed on shutdown", async () => {
    const [port] = await freePorts(1);
    const dir = mkdtempSync(join(tmpdir(), "portico-al-"));
    const log = join(dir, "access.log");
    const file = simple(port!, `settings: { accessLog: { path: ${log}, format: text } }`);
    const q = await startPorticoWith(["run", "-c", file, "--admin", "off"]);
    try {
      await curl([`http://127.0.0.1:${port}/text?a=1`, "-A", "ua/2", "-H", "x-request-id: tx-1"]);
    } finally {
      await q.stop();
    }
    expect(q.output()).not.toContain("/text");
    const text = readFileSync(log, "utf8");
    expect(text).toMatch(
      new RegExp(
        String.raw`^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] "GET /text\?a=1 HTTP/1.1" 200 - 0 2 \d+ - "-" "ua/2" "-" ` +
          String.raw`"127.0.0.1:${port}" "-" - 127.0.0.1 - direct listener=web vhost=\* retries=0 ` +
          String.raw`peer_subject="-" peer_uri_san=- downstream_direct_remote_address=127.0.0.1\n$`,
      ),
    );
    expect(statSync(log).mode & 0o777).toBe(0o640);
  });

  test("IstioOperator meshConfig: accessLogFile and TEXT encoding", async () => {
    const [port] = await freePorts(1);
    const dir = mkdtempSync(join(tmpdir(), "portico-al-"));
    const log = join(dir, "mesh.log");
    const mesh = writeConfig(`
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: { name: control-plane }
spec:
  profile: demo
  meshConfig:
    accessLogFile: ${log}
    accessLogEncoding: TEXT
`);
    const q = await startPorticoWith(["run", "-c", simple(port!), "-c", mesh, "--admin", "off"]);
    try {
      await curl([`http://127.0.0.1:${port}/mesh`]);
    } finally {
      await q.stop();
    }
    expect(q.output()).toContain("spec.profile: ignored");
    expect(readFileSync(log, "utf8")).toContain('"GET /mesh HTTP/1.1" 200 -');
  });

  test("Telemetry with disabled: true turns the default log off; routes.yaml's setting beats it", async () => {
    const [port, port2] = await freePorts(2);
    const telemetry = writeConfig(`
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
    - providers: [{ name: envoy }]
      disabled: true
`);
    const q = await startPorticoWith(["run", "-c", simple(port!), "-c", telemetry, "--admin", "off"]);
    try {
      await curl([`http://127.0.0.1:${port}/telemetry-off`]);
      await sleep(400);
      expect(q.output()).not.toContain("/telemetry-off");
    } finally {
      await q.stop();
    }
    const on = simple(port2!, "settings: { accessLog: stdout }");
    const q2 = await startPorticoWith(["run", "-c", on, "-c", telemetry, "--admin", "off"]);
    try {
      await curl([`http://127.0.0.1:${port2}/yaml-on`]);
      expect(await lineFor(q2, (l) => l.path === "/yaml-on")).toMatchObject({ response_code: 200 });
    } finally {
      await q2.stop();
    }
    expect(existsSync(telemetry)).toBe(true);
  });

  test("a reload moves the log to another file; --log-format json makes lifecycle lines JSON", async () => {
    const [port] = await freePorts(1);
    const dir = mkdtempSync(join(tmpdir(), "portico-al-"));
    const [a, b] = [join(dir, "a.log"), join(dir, "b.log")];
    const config = simple(port!, `settings: { accessLog: ${a} }`);
    const q = await startPorticoWith(["run", "-c", config, "--admin", "off", "--log-format", "json"]);
    try {
      await curl([`http://127.0.0.1:${port}/before`]);
      writeFileSync(config, readFileSync(config, "utf8").replace(a, b));
      q.proc.kill("SIGHUP");
      const deadline = Date.now() + 10_000;
      while (!q.output().includes(`"access log: ${b} (json)"`) && Date.now() < deadline) await sleep(25);
      await curl([`http://127.0.0.1:${port}/after`]);
    } finally {
      await q.stop();
    }
    expect(readFileSync(a, "utf8")).toContain('"path":"/before"');
    expect(readFileSync(a, "utf8")).not.toContain("/after");
    expect(readFileSync(b, "utf8")).toContain('"path":"/after"');
    const lifecycle = q
      .output()
      .split("\n")
      .filter((l) => l.includes("serving"));
    expect(JSON.parse(lifecycle[0]!)).toMatchObject({ level: "info" });
  });
});
