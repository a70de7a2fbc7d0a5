// The connection settings of a DestinationRule connectionPool, end to end (issue 10), with Portico
// as a child process (PORTICO_RUNTIME=bun|deno|node): tcp.connectTimeout (HTTP and a TCP route),
// http.maxRequestsPerConnection and http.idleTimeout (HTTP/1.1 and h2c), tcp.tcpKeepalive. The
// upstreams record the client port of every request, so a new connection shows as a new port.
// A connect that never completes: a loopback listener whose accept queue is full (Linux drops
// the SYN, so the connect hangs), made with python3 since no JS runtime can listen without
// accepting; without python3 those tests are skipped.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createH2Server, type Http2Server, type ServerHttp2Stream } from "node:http2";
import { connect, type Socket } from "node:net";
import { freePorts, sleep } from "../helpers/net.ts";
import { type PorticoProcess, startPortico, writeConfig } from "../helpers/portico.ts";

const PYTHON = spawnSync("python3", ["-c", "pass"]).status === 0;

/** A listener on 127.0.0.1 whose accept queue python3 filled: connects to it never complete. */
async function unanswered(): Promise<{ port: number; proc: ChildProcess }> {
  const script = [
    "import socket, sys",
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)",
    "port = s.getsockname()[1]",
    "fill = []",
    // listen(0) queues one connection; the ones after it wait for a SYN-ACK that never comes.
    "for i in range(2):",
    "    c = socket.socket(); c.setblocking(False); c.connect_ex(('127.0.0.1', port)); fill.append(c)",
    "print(port, flush=True)",
    "sys.stdin.read()",
  ].join("\n");
  const proc = spawn("python3", ["-c", script], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.once("data", (d) => resolve(Number(String(d).trim())));
    proc.once("error", reject);
  });
  return { port, proc };
}

/** An HTTP/1.1 or h2c upstream that records the client port of each request and each close. */
class Recorder {
  /** The client (Portico) port of each request, in order. */
  readonly ports: number[] = [];
  /** Client port → when its connection closed (Date.now()). */
  readonly closed = new Map<number, number>();
  port = 0;
  private server?: Server | Http2Server;
  constructor(private readonly h2 = false) {}

  async start(): Promise<this> {
    const track = (socket: Socket) => {
      const p = socket.remotePort!;
      socket.once("close", () => this.closed.set(p, Date.now()));
    };
    if (this.h2) {
      const server = createH2Server();
      server.on("session", (session) => track(session.socket as Socket));
      server.on("stream", (stream: ServerHttp2Stream) => {
        this.ports.push((stream.session!.socket as Socket).remotePort!);
        stream.respond({ ":status": 200 });
        stream.end("ok");
      });
      this.server = server;
    } else {
      const server = createHttpServer((req, res) => {
        this.ports.push(req.socket.remotePort!);
        res.end("ok");
      });
      // Only Portico closes idle connections here: the server's own 5 s would muddle the test.
      server.keepAliveTimeout = 60_000;
      server.on("connection", track);
      this.server = server;
    }
    const server = this.server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  stop(): void {
    const s = this.server as Server | undefined;
    s?.closeAllConnections?.();
    this.server?.close();
  }
}

let p: PorticoProcess;
let http: number, tcp: number;
let blackhole: { port: number; proc: ChildProcess } | undefined;
const good = new Recorder();
const reuseH1 = new Recorder();
const reuseH2 = new Recorder(true);
const idleH1 = new Recorder();
const idleH2 = new Recorder(true);
const keepalive = new Recorder();
const keepaliveH2 = new Recorder(true);

beforeAll(async () => {
  [http, tcp] = await freePorts(2);
  if (PYTHON) blackhole = await unanswered();
  for (const r of [good, reuseH1, reuseH2, idleH1, idleH2, keepalive, keepaliveH2]) await r.start();
  const bh = blackhole?.port ?? 9;
  const ep = (port: number) => `{ address: 127.0.0.1, port: ${port} }`;
  const route = (host: string, service: string, extra = "") =>
    `  - hosts: [${host}]\n    http: [{ route: [{ destination: ${service} }]${extra} }]`;
  const config = `
listeners:
  - { name: http, address: 127.0.0.1, port: ${http}, protocol: HTTP }
  - { name: tcp, address: 127.0.0.1, port: ${tcp}, protocol: TCP }
services:
  blackhole:
    endpoints: [${ep(bh)}]
    connectionPool: { tcp: { connectTimeout: 300ms } }
  failover:
    endpoints: [${ep(bh)}, ${ep(good.port)}]
    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool: { tcp: { connectTimeout: 300ms } }
  reuse-h1:
    endpoints: [${ep(reuseH1.port)}]
    connectionPool: { http: { maxRequestsPerConnection: 2 } }
  reuse-h2:
    protocol: http2
    endpoints: [${ep(reuseH2.port)}]
    connectionPool: { http: { maxRequestsPerConnection: 2 } }
  idle-h1:
    endpoints: [${ep(idleH1.port)}]
    connectionPool: { http: { idleTimeout: 300ms } }
  idle-h2:
    protocol: http2
    endpoints: [${ep(idleH2.port)}]
    connectionPool: { http: { idleTimeout: 300ms } }
  keepalive:
    endpoints: [${ep(keepalive.port)}]
    connectionPool: { tcp: { tcpKeepalive: { time: 7s } } }
  keepalive-h2:
    protocol: http2
    endpoints: [${ep(keepaliveH2.port)}]
    connectionPool: { tcp: { tcpKeepalive: { time: 7s } } }
routes:
  - { hosts: ["*"], tcp: [{ route: [{ destination: blackhole }] }] }
${route("blackhole.test", "blackhole")}
${route("failover.test", "failover", ", retries: { attempts: 2, retryOn: connect-failure }")}
${route("reuse-h1.test", "reuse-h1")}
${route("reuse-h2.test", "reuse-h2")}
${route("idle-h1.test", "idle-h1")}
${route("idle-h2.test", "idle-h2")}
${route("keepalive.test", "keepalive")}
${route("keepalive-h2.test", "keepalive-h2")}
`;
  p = await startPortico(writeConfig(config));
});

afterAll(async () => {
  await p?.stop();
  for (const r of [good, reuseH1, reuseH2, idleH1, idleH2, keepalive, keepaliveH2]) r.stop();
  blackhole?.proc.kill();
});

async function get(host: string) {
  const started = Date.now();
  // A hang fails the test here, not through the runner's timeout (which stops Portico too).
  const res = await fetch(`http://127.0.0.1:${http}/`, {
    headers: { host },
    signal: AbortSignal.timeout(3_000),
  });
  return { status: res.status, body: await res.text(), ms: Date.now() - started };
}

describe("tcp.connectTimeout", () => {
  test.skipIf(!PYTHON)("a connect that does not complete in time is a 503 'connection timeout'", async () => {
    const r = await get("blackhole.test");
    expect(r.status).toBe(503);
    expect(r.body).toContain("connection timeout");
    // 300 ms, not the route's 15 s nor the system's two minutes of SYN retries.
    expect(r.ms).toBeGreaterThanOrEqual(250);
    expect(r.ms).toBeLessThan(3_000);
  });

  test.skipIf(!PYTHON)(
    "with connect-failure retries, the request succeeds on the other endpoint",
    async () => {
      const times: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await get("failover.test");
        expect(r.status).toBe(200);
        expect(r.body).toBe("ok");
        times.push(r.ms);
      }
      // Round robin sent some first tries to the endpoint that never answers: those waited out
      // the connect timeout, then moved on.
      expect(Math.max(...times)).toBeGreaterThanOrEqual(250);
      expect(Math.max(...times)).toBeLessThan(3_000);
    },
  );

  test.skipIf(!PYTHON)("a TCP route gives up on the backend after the pool's connectTimeout", async () => {
    const started = Date.now();
    const s = connect({ host: "127.0.0.1", port: tcp });
    s.on("error", () => {});
    await Promise.race([new Promise((r) => s.once("close", r)), sleep(3_000)]);
    s.destroy();
    const ms = Date.now() - started;
    // Not the default 10 s.
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3_000);
  });
});

describe("http.maxRequestsPerConnection: 2", () => {
  for (const [name, rec] of [
    ["HTTP/1.1", reuseH1],
    ["h2c", reuseH2],
  ] as const) {
    test(`${name}: a new connection every two requests, the spent one closed`, async () => {
      const host = name === "h2c" ? "reuse-h2.test" : "reuse-h1.test";
      for (let i = 0; i < 6; i++) expect((await get(host)).status).toBe(200);
      const ports = rec.ports;
      expect(ports).toHaveLength(6);
      expect(new Set(ports).size).toBe(3);
      for (let i = 0; i < 6; i += 2) expect(ports[i + 1]).toBe(ports[i]!);
      // The first two connections were closed by Portico after their second request.
      const deadline = Date.now() + 2_000;
      while (Date.now() < deadline && !(rec.closed.has(ports[0]!) && rec.closed.has(ports[2]!)))
        await sleep(20);
      expect(rec.closed.has(ports[0]!)).toBe(true);
      expect(rec.closed.has(ports[2]!)).toBe(true);
    });
  }
});

describe("http.idleTimeout: 300ms", () => {
  for (const [name, rec] of [
    ["HTTP/1.1", idleH1],
    ["h2c", idleH2],
  ] as const) {
    test(`${name}: the upstream sees the idle connection close`, async () => {
      const host = name === "h2c" ? "idle-h2.test" : "idle-h1.test";
      expect((await get(host)).status).toBe(200);
      const done = Date.now();
      const port = rec.ports.at(-1)!;
      const deadline = Date.now() + 3_000;
      while (Date.now() < deadline && !rec.closed.has(port)) await sleep(20);
      expect(rec.closed.has(port)).toBe(true);
      const after = rec.closed.get(port)! - done;
      expect(after).toBeGreaterThanOrEqual(200);
      expect(after).toBeLessThan(2_000);
    });
  }
});

describe("tcp.tcpKeepalive", () => {
  // /proc/net/tcp shows an established socket's pending keepalive timer ("tr" 02 and the time
  // left in hundredths of a second): Portico's upstream socket is the one whose local port the
  // upstream saw.
  for (const [name, rec] of [
    ["HTTP/1.1", keepalive],
    ["h2c", keepaliveH2],
  ] as const) {
    test.skipIf(!existsSync("/proc/net/tcp"))(`${name}: SO_KEEPALIVE with the configured time`, async () => {
      const host = name === "h2c" ? "keepalive-h2.test" : "keepalive.test";
      expect((await get(host)).status).toBe(200);
      const port = rec.ports.at(-1)!;
      await sleep(200);
      const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
      const row = readFileSync("/proc/net/tcp", "utf8")
        .split("\n")
        .map((l) => l.trim().split(/\s+/))
        .find((f) => f[1] === local && f[3] === "01");
      expect(row).toBeDefined();
      const [tr, when] = row![5]!.split(":");
      expect(tr).toBe("02");
      // 7 s, less the time since the last packet (not node:http's 30 s, nor the system's 2 h).
      const left = Number.parseInt(when!, 16);
      expect(left).toBeGreaterThan(500);
      expect(left).toBeLessThanOrEqual(700);
    });
  }
});
