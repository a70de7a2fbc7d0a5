// Listener and route limits (src/config/limits.ts) through real sockets, against every listener
// adapter of the runtime under test (`--adapter`, as hostile-http1.test.ts does), over plain
// HTTP/1.1, HTTP/1.1 over TLS and h2. Small limits make each case quick: settings.limits gives
// every field, the HTTP listeners override one of them (maxRequestHeaders), and one route
// overrides the body limit. Each case asserts the refusal (status, close, GOAWAY or SETTINGS
// value), that the upstream saw nothing it should not, and that a fresh request then gets 200.
// Where an adapter cannot enforce a limit, the case asserts the startup line that says so.
//
// One Portico per adapter, cases in sequence; the timeouts are 1 s (headers) and 2 s (idle).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect as h2connect, constants, type ClientHttp2Session } from "node:http2";
import { connect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { bookCredentials } from "../helpers/book.ts";
import { exchange, freePorts, sleep } from "../helpers/net.ts";
import { RUNTIME, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { EchoUpstream, TcpEchoServer } from "../helpers/upstreams.ts";

const H = "limits.example";
const LIMITS = {
  maxRequestHeadersKb: 4,
  maxRequestHeaders: 20, // the listeners' own value; settings say 50
  maxRequestBodyBytes: 1024,
  routeBody: 4096,
  requestHeadersTimeoutMs: 1_000,
  idleTimeoutMs: 2_000,
  maxConnections: 4,
  maxConcurrentStreams: 7,
  maxRequestsPerConnection: 3,
};

/** A variant of an adapter: its routes forward WebSocket upgrades. */
const WEBSOCKET = "(websocket)";
/** Bun.serve serves these adapters' plain listener and (h2, or all without upgrades) TLS clients. */
const BUN_SERVE = new Set(["bun-serve", "bun-sni", `bun-sni ${WEBSOCKET}`]);
const ADAPTERS: Record<typeof RUNTIME, string[]> = {
  bun: ["bun-serve", "bun-sni", `bun-sni ${WEBSOCKET}`, "node-http2"],
  deno: ["node-http2-pipe", "node-http2"],
  node: ["node-http2"],
};

/** What Bun.serve cannot enforce (limits-bun.ts), as the startup line names it. */
const BUN_SERVE_CANNOT = [
  "maxRequestHeadersKb",
  "requestHeadersTimeout",
  "maxConcurrentStreams",
  "maxRequestsPerConnection",
];

type Via = "plain" | "tls";
/** Whether Bun.serve answers this adapter's HTTP/1.1 clients on `via`. */
function bunServeH1(adapter: string, via: Via): boolean {
  if (adapter === "bun-serve") return true;
  // bun-sni: with upgrades on, plain HTTP is node:http and HTTP/1.1 over TLS node:https.
  return adapter === "bun-sni";
}
const bunServeH2 = (adapter: string) => BUN_SERVE.has(adapter);

setDefaultTimeout(15_000);

let echo: EchoUpstream;
let tcpEcho: TcpEchoServer;
beforeAll(async () => {
  echo = await new EchoUpstream().start();
  tcpEcho = await new TcpEchoServer().start();
});
afterAll(async () => {
  await echo?.stop();
  await tcpEcho?.stop();
});

function config(adapter: string, http: number, https: number, tcp: number): string {
  const bunServe = BUN_SERVE.has(adapter);
  const ws = bunServe && !adapter.endsWith(WEBSOCKET) ? "\n        websocket: false" : "";
  const own = `limits: { maxRequestHeaders: ${LIMITS.maxRequestHeaders} }`;
  return `settings:${bunServe ? "\n  requestTarget: whatwg" : ""}
  limits:
    maxRequestHeadersKb: ${LIMITS.maxRequestHeadersKb}
    maxRequestHeaders: 50
    maxRequestBodyBytes: ${LIMITS.maxRequestBodyBytes}
    requestHeadersTimeout: ${LIMITS.requestHeadersTimeoutMs}ms
    idleTimeout: ${LIMITS.idleTimeoutMs}ms
    maxConnections: ${LIMITS.maxConnections}
    maxConcurrentStreams: ${LIMITS.maxConcurrentStreams}
    maxRequestsPerConnection: ${LIMITS.maxRequestsPerConnection}
listeners:
  - { name: plain, address: 127.0.0.1, port: ${http}, protocol: HTTP, ${own} }
  - name: secure
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    ${own}
    servers:
      - hosts: ["*"]
        tls: { mode: SIMPLE, credential: webapp-credential }
  - name: bytes
    address: 127.0.0.1
    port: ${tcp}
    protocol: TCP
    limits: { maxConnections: 2, idleTimeout: 1s }
${bookCredentials}
services:
  echo: http://127.0.0.1:${echo.port}
  tcp-echo: tcp://127.0.0.1:${tcpEcho.port}
routes:
  - hosts: ["*"]
    tcp:
      - route: [{ destination: tcp-echo }]
    http:
      - match: [{ uri: { prefix: /big/ } }]
        route: [{ destination: echo }]
        maxRequestBodyBytes: ${LIMITS.routeBody}${ws}
      - route: [{ destination: echo }]${ws}
`;
}

const headEnd = (d: Buffer) => d.includes("\r\n\r\n");
const statusOf = (d: Buffer): number | "closed" => {
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(d.toString("latin1"));
  return m ? Number(m[1]) : "closed";
};
const get = (path: string, headers = "") => `GET ${path} HTTP/1.1\r\nHost: ${H}\r\n${headers}\r\n`;
const fields = (n: number) => Array.from({ length: n }, (_, i) => `x-f${i}: v\r\n`).join("");
const seenPath = (m: string) => echo.seen.filter((s) => s.url.includes(m));

/**
 * Up to `n` requests on one connection, each sent once the previous response came (an echo
 * response is one segment on loopback); the response heads, and whether the server closed.
 */
function oneByOne(via: Via, port: number, n: number): Promise<{ heads: Buffer[]; closed: boolean }> {
  return new Promise((resolve) => {
    const heads: Buffer[] = [];
    const sock =
      via === "tls"
        ? tlsConnect({
            host: "127.0.0.1",
            port,
            rejectUnauthorized: false,
            servername: H,
            ALPNProtocols: ["http/1.1"],
          })
        : connect({ host: "127.0.0.1", port });
    const next = () => sock.write(get(`/c/n/${heads.length}/${crypto.randomUUID()}`));
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ heads, closed });
    };
    const timer = setTimeout(() => finish(false), 2_000);
    sock.once(via === "tls" ? "secureConnect" : "connect", next);
    let buf = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = /content-length: *(\d+)/i.exec(buf.subarray(0, end).toString("latin1"));
      const complete = length
        ? buf.length >= end + 4 + Number(length[1])
        : buf.subarray(-5).toString("latin1") === "0\r\n\r\n";
      if (!complete) return;
      heads.push(buf.subarray(0, end + 4));
      buf = Buffer.alloc(0);
      if (heads.length < n) next();
      else finish(false);
    });
    sock.on("error", () => {});
    sock.on("close", () => finish(true));
  });
}

/** An h2 session to the TLS listener (certificate not verified: the book's own CA). */
function h2(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: H });
    s.once("remoteSettings", () => resolve(s));
    s.once("error", reject);
  });
}

/** One h2 request; the status, or "reset" when the stream or session ended without one. */
function h2request(
  s: ClientHttp2Session,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer; chunks?: number } = {},
): Promise<{ status: number | "reset"; body: string }> {
  return new Promise((resolve) => {
    const req = s.request({
      ":method": opts.method ?? "GET",
      ":path": path,
      ":authority": H,
      ...opts.headers,
    });
    let status: number | "reset" = "reset";
    let body = "";
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", (d) => (body += d));
    const done = () => resolve({ status, body });
    req.on("end", done);
    req.on("close", done);
    req.on("error", () => {});
    if (opts.body) {
      // Several DATA frames and no content-length: the limit is met while streaming.
      const n = opts.chunks ?? 1;
      const size = Math.ceil(opts.body.length / n);
      for (let i = 0; i < n; i++) req.write(opts.body.subarray(i * size, (i + 1) * size));
    }
    req.end();
  });
}

for (const adapter of ADAPTERS[RUNTIME]) {
  describe(`limits on ${RUNTIME}, ${adapter}`, () => {
    let p: PorticoProcess | undefined;
    const ports = { plain: 0, tls: 0, tcp: 0 };
    beforeAll(async () => {
      [ports.plain, ports.tls, ports.tcp] = await freePorts(3);
      const file = writeConfig(config(adapter, ports.plain, ports.tls, ports.tcp));
      p = await startPorticoWith(["run", "-c", file, "--admin", "off", "--adapter", adapter.split(" ")[0]!]);
    });
    afterAll(async () => {
      await p?.stop();
      if (process.env.LIMITS_LOG) console.log(p?.output());
    });

    test("the startup says which limits the adapter cannot enforce, once per listener", () => {
      const lines = (p!.output().match(/^.*cannot enforce.*$/gm) ?? []).map((l) => l);
      const say = (name: string, words: string[]) =>
        expect(lines.some((l) => l.includes(`listener ${name} [`) && l.includes(words.join(", ")))).toBe(
          true,
        );
      if (adapter === "bun-serve") {
        say("plain", ["maxRequestHeadersKb", "requestHeadersTimeout", "maxConnections"]);
        say("secure", BUN_SERVE_CANNOT.slice(0, 2));
        expect(lines.find((l) => l.includes("listener secure"))).toContain("maxConcurrentStreams");
        expect(lines).toHaveLength(2);
      } else if (adapter === "bun-sni") {
        say("plain", ["maxRequestHeadersKb", "requestHeadersTimeout", "maxConnections"]);
        say("secure", BUN_SERVE_CANNOT);
        expect(lines).toHaveLength(2);
      } else if (adapter === `bun-sni ${WEBSOCKET}`) {
        say("secure", BUN_SERVE_CANNOT);
        expect(lines).toHaveLength(1);
      } else expect(lines).toHaveLength(0);
    });

    for (const via of ["plain", "tls"] as Via[]) {
      const send = (bytes: string | Buffer, timeoutMs = 3_000, untilHead = true) =>
        exchange(ports[via], bytes, {
          halfClose: false,
          timeoutMs,
          ...(untilHead ? { until: headEnd } : {}),
          ...(via === "tls" ? { tls: { servername: H } } : {}),
        });
      const fresh = async () => statusOf((await send(get(`/fresh/${crypto.randomUUID()}`))).data);
      const bun = bunServeH1(adapter, via);

      test(`${via}: headers over maxRequestHeadersKb → 431${bun ? " (Bun.serve: its own 16 KiB)" : ""}`, async () => {
        const m = crypto.randomUUID();
        const small = await send(get(`/c/${m}/small`, `x-big: ${"a".repeat(3 * 1024)}\r\n`));
        expect(statusOf(small.data)).toBe(200);
        const big = await send(get(`/c/${m}/big`, `x-big: ${"a".repeat(6 * 1024)}\r\n`));
        expect(statusOf(big.data)).toBe(bun ? 200 : 431);
        const huge = await send(get(`/c/${m}/huge`, `x-big: ${"a".repeat(20 * 1024)}\r\n`));
        expect(statusOf(huge.data)).toBe(431);
        expect(seenPath(`${m}/huge`)).toHaveLength(0);
        expect(await fresh()).toBe(200);
      });

      test(`${via}: more header fields than maxRequestHeaders (the listener's 20) → 431`, async () => {
        const m = crypto.randomUUID();
        const ok = await send(get(`/c/${m}/ok`, fields(15)));
        expect(statusOf(ok.data)).toBe(200);
        const many = await send(get(`/c/${m}/many`, fields(30)));
        // Bun.serve has no such option: Portico counts the names (Headers.count) in the handler.
        expect(statusOf(many.data)).toBe(431);
        expect(seenPath(`${m}/many`)).toHaveLength(0);
        expect(await fresh()).toBe(200);
      });

      test(`${via}: Content-Length over maxRequestBodyBytes → 413 before the body is read`, async () => {
        const m = crypto.randomUUID();
        // Only the head is sent: a 413 that comes anyway was decided before reading the body.
        const head = `POST /c/${m} HTTP/1.1\r\nHost: ${H}\r\ncontent-length: 2000\r\n\r\n`;
        const r = await send(head);
        expect(statusOf(r.data)).toBe(413);
        expect(r.data.toString("latin1")).toMatch(/connection: close/i);
        expect(seenPath(m)).toHaveLength(0);
        const fits = await send(
          `POST /c/${m}/fits HTTP/1.1\r\nHost: ${H}\r\ncontent-length: 1000\r\n\r\n${"b".repeat(1000)}`,
        );
        expect(statusOf(fits.data)).toBe(200);
        expect(await fresh()).toBe(200);
      });

      test(`${via}: a chunked body passing maxRequestBodyBytes → 413 while streaming`, async () => {
        const m = crypto.randomUUID();
        const chunk = `100\r\n${"c".repeat(256)}\r\n`;
        const body = chunk.repeat(8) + "0\r\n\r\n";
        const r = await send(
          `POST /c/${m} HTTP/1.1\r\nHost: ${H}\r\ntransfer-encoding: chunked\r\n\r\n${body}`,
        );
        expect(statusOf(r.data)).toBe(413);
        expect(seenPath(m)).toHaveLength(0);
        const small = chunk.repeat(2) + "0\r\n\r\n";
        const ok = await send(
          `POST /c/${m}/ok HTTP/1.1\r\nHost: ${H}\r\ntransfer-encoding: chunked\r\n\r\n${small}`,
        );
        expect(statusOf(ok.data)).toBe(200);
        expect(await fresh()).toBe(200);
      });

      test(`${via}: a route's maxRequestBodyBytes replaces the listener's`, async () => {
        const m = crypto.randomUUID();
        const post = (n: number) =>
          `POST /big/${m}/${n} HTTP/1.1\r\nHost: ${H}\r\ncontent-length: ${n}\r\n\r\n${"d".repeat(n)}`;
        expect(statusOf((await send(post(3000))).data)).toBe(200);
        expect(statusOf((await send(post(5000))).data)).toBe(413);
        expect(seenPath(`${m}/5000`)).toHaveLength(0);
        expect(await fresh()).toBe(200);
      });

      test(`${via}: requestHeadersTimeout closes a slow client${bun ? " (not on Bun.serve)" : ""}`, async () => {
        const r = await send(`GET /c/slow HTTP/1.1\r\nHost: ${H}\r\n`, bun ? 2_000 : 4_000, false);
        if (bun) {
          expect(r.how).toBe("timeout");
        } else {
          expect(r.how).not.toBe("timeout");
          expect(r.ms).toBeGreaterThanOrEqual(900);
          // Before idleTimeout (2 s), which would close it too.
          expect(r.ms).toBeLessThan(1_950);
        }
        expect(await fresh()).toBe(200);
      });

      // Deno's node:http2 closes an HTTP/1.1 connection handed over in process after one response
      // (docs/runtimes.md, "HTTP/1.1 keep-alive"): why Deno runs node-http2-pipe.
      const closesAfterOne = RUNTIME === "deno" && adapter === "node-http2" && via === "tls";
      const keptAlive = closesAfterOne ? test.failing : test;

      keptAlive(`${via}: idleTimeout closes a kept-alive connection`, async () => {
        const r = await send(get(`/c/idle/${crypto.randomUUID()}`), 9_000, false);
        expect(statusOf(r.data)).toBe(200);
        expect(r.how).not.toBe("timeout");
        // 2 s as configured; Bun.serve counts whole seconds on a coarse timer.
        expect(r.ms).toBeGreaterThanOrEqual(1_500);
        expect(await fresh()).toBe(200);
      });

      keptAlive(
        `${via}: maxRequestsPerConnection: the 3rd response says connection: close, then closes`,
        async () => {
          const r = await oneByOne(via, ports[via], 4);
          if (bun) {
            expect(r.heads.map(statusOf)).toEqual([200, 200, 200, 200]);
          } else {
            expect(r.heads.map(statusOf)).toEqual([200, 200, 200]);
            expect(r.heads[2]!.toString("latin1")).toMatch(/\r\nconnection: close\r\n/i);
            expect(r.closed).toBe(true);
          }
          expect(await fresh()).toBe(200);
        },
      );
    }

    test(`maxConnections ${LIMITS.maxConnections}: one more is closed at once; after one closes, a new one is served`, async () => {
      // Bun.serve (the bun-serve adapter, and bun-sni's plain listener) has no connection cap.
      const capped = adapter !== "bun-serve" && adapter !== "bun-sni";
      // Each held connection has been served once and stays open (keep-alive).
      const held = await Promise.all(
        Array.from(
          { length: LIMITS.maxConnections },
          () =>
            new Promise<import("node:net").Socket>((resolve) => {
              const s = connect({ host: "127.0.0.1", port: ports.plain }, () => s.write(get("/c/held")));
              s.once("data", () => resolve(s));
              s.on("error", () => {});
            }),
        ),
      );
      try {
        await sleep(100);
        const extra = await exchange(ports.plain, get("/c/extra"), {
          halfClose: false,
          timeoutMs: 1_500,
          until: headEnd,
        });
        if (capped) {
          expect(extra.data.length).toBe(0);
          expect(extra.how).not.toBe("timeout");
          expect(extra.ms).toBeLessThan(1_000);
        } else expect(statusOf(extra.data)).toBe(200);
        held.pop()!.destroy();
        await sleep(200);
        const next = await exchange(ports.plain, get("/c/next"), {
          halfClose: false,
          timeoutMs: 1_500,
          until: headEnd,
        });
        expect(statusOf(next.data)).toBe(200);
      } finally {
        for (const s of held) s.destroy();
      }
      await sleep(200);
    });

    describe("h2", () => {
      const bun = bunServeH2(adapter);

      test(`SETTINGS_MAX_CONCURRENT_STREAMS is ${LIMITS.maxConcurrentStreams}${bun ? " (not on Bun.serve)" : ""}`, async () => {
        const s = await h2(ports.tls);
        try {
          const advertised = s.remoteSettings.maxConcurrentStreams;
          if (process.env.LIMITS_LOG) console.log(`${adapter} h2 maxConcurrentStreams ${advertised}`);
          if (bun) expect(advertised).not.toBe(LIMITS.maxConcurrentStreams);
          else expect(advertised).toBe(LIMITS.maxConcurrentStreams);
          expect((await h2request(s, "/c/h2-ok")).status).toBe(200);
        } finally {
          s.close();
        }
      });

      test("a body without content-length passing maxRequestBodyBytes → 413 while streaming", async () => {
        const s = await h2(ports.tls);
        try {
          const m = crypto.randomUUID();
          const r = await h2request(s, `/c/${m}`, {
            method: "POST",
            body: Buffer.alloc(3000, 0x65),
            chunks: 6,
          });
          expect(r.status).toBe(413);
          expect(seenPath(m)).toHaveLength(0);
          const cl = await h2request(s, `/c/${m}/cl`, {
            method: "POST",
            headers: { "content-length": "2000" },
            body: Buffer.alloc(2000, 0x65),
          });
          expect(cl.status).toBe(413);
          const ok = await h2request(s, `/c/${m}/ok`, {
            method: "POST",
            body: Buffer.alloc(500, 0x65),
            chunks: 2,
          });
          expect(ok.status).toBe(200);
        } finally {
          s.close();
        }
        const again = await h2(ports.tls);
        expect((await h2request(again, "/c/h2-fresh")).status).toBe(200);
        again.close();
      });

      test(`a header block over maxRequestHeadersKb is refused${bun ? " (Bun.serve: its own limit)" : ""}`, async () => {
        const s = await h2(ports.tls);
        s.on("error", () => {});
        try {
          const m = crypto.randomUUID();
          const small = await h2request(s, `/c/${m}/small`, { headers: { "x-big": "a".repeat(3 * 1024) } });
          expect(small.status).toBe(200);
          const r = await h2request(s, `/c/${m}/big`, { headers: { "x-big": "a".repeat(6 * 1024) } });
          if (process.env.LIMITS_LOG) console.log(`${adapter} h2 6 KiB header: ${r.status}`);
          if (!bun) expect(r.status === 431 || r.status === "reset").toBe(true);
          if (!bun) expect(seenPath(`${m}/big`)).toHaveLength(0);
        } finally {
          s.destroy();
        }
        const again = await h2(ports.tls);
        expect((await h2request(again, "/c/h2-fresh")).status).toBe(200);
        again.close();
      });

      test("too many header fields → 431", async () => {
        const s = await h2(ports.tls);
        try {
          const headers = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x-f${i}`, "v"]));
          const r = await h2request(s, "/c/h2-many", { headers });
          expect(r.status).toBe(431);
        } finally {
          s.close();
        }
      });

      test(`maxRequestsPerConnection: GOAWAY after the 3rd stream${bun ? " (not on Bun.serve)" : ""}`, async () => {
        const s = await h2(ports.tls);
        let goaway: number | undefined;
        s.on("goaway", (code) => (goaway = code));
        s.on("error", () => {});
        try {
          for (let i = 0; i < 3; i++) expect((await h2request(s, `/c/h2-n/${i}`)).status).toBe(200);
          await sleep(300);
          if (bun) expect(goaway).toBeUndefined();
          else expect(goaway).toBe(constants.NGHTTP2_NO_ERROR);
        } finally {
          s.destroy();
        }
        const again = await h2(ports.tls);
        expect((await h2request(again, "/c/h2-fresh")).status).toBe(200);
        again.close();
      });
    });

    // node-tcp is the one TCP adapter, the same under every HTTP adapter: once per runtime.
    (adapter === "node-http2" ? test : test.skip)(
      "TCP listener: maxConnections 2 closes the third at once; idleTimeout 1s closes a silent one",
      async () => {
        const open = () =>
          new Promise<{ sock: import("node:net").Socket; closedIn: Promise<number> }>((resolve) => {
            const started = Date.now();
            const sock = connect({ host: "127.0.0.1", port: ports.tcp });
            sock.on("error", () => {});
            const closedIn = new Promise<number>((r) => sock.once("close", () => r(Date.now() - started)));
            sock.once("connect", () => resolve({ sock, closedIn }));
          });
        const a = await open();
        const b = await open();
        await sleep(100);
        const c = await open();
        expect(await Promise.race([c.closedIn, sleep(800).then(() => -1)])).toBeGreaterThanOrEqual(0);
        const idle = await a.closedIn;
        expect(idle).toBeGreaterThanOrEqual(900);
        expect(idle).toBeLessThan(3_000);
        await b.closedIn;
        const d = await exchange(ports.tcp, "hello", { timeoutMs: 2_000 });
        expect(d.data.toString()).toContain("hello");
      },
    );
  });
}
