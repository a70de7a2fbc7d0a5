// WebSocket through Portico over HTTP/1.1 (plain and TLS, SIMPLE and MUTUAL), with the `ws`
// package as client and server: the upgrade is forwarded, bytes flow both ways untouched
// (text, 1 MiB binary, ping/pong, close code and reason), an upstream that goes away closes
// the client, the route timeout stops at the 101 and the route's idleTimeout closes an idle
// tunnel, `websocket: false` answers 403 as Envoy does, a refused upgrade comes back as sent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  type ClientHttp2Stream,
  connect as h2connect,
  createSecureServer,
  type Http2SecureServer,
} from "node:http2";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { type AddressInfo, connect as netConnect } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { HOST_CATALOG, HOST_WEBAPP, book, bookCredentials } from "../helpers/book.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import { startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

let upstream: Server;
let wss: WebSocketServer;
let secureUpstream: Http2SecureServer;
let p: PorticoProcess;
let plainPort: number, tlsPort: number, mtlsPort: number;
/** The upgrade requests the upstream saw, by path. */
const seen = new Map<string, IncomingMessage>();
const pingsSeen: string[] = [];
/** The close code the upstream saw, by path. */
const upstreamClosed = new Map<string, number>();

beforeAll(async () => {
  upstream = createServer((_req, res) => res.writeHead(426).end("upgrade required"));
  wss = new WebSocketServer({ noServer: true, maxPayload: 4 << 20 });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    seen.set(req.url!, req);
    if (req.url === "/ws/raw") {
      // Not WebSocket at all: bytes right behind the 101 in the same write, then an echo of
      // what arrives, including what came with the request (`head`). Portico reads no frames.
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\nGREETING;",
      );
      socket.write(head);
      socket.pipe(socket);
      return;
    }
    if (req.url === "/ws/reject") {
      socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nnope");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("close", (code) => upstreamClosed.set(req.url!, code));
      ws.on("ping", (data) => pingsSeen.push(String(data)));
      ws.on("message", (data, isBinary) => {
        const text = isBinary ? "" : String(data);
        if (text === "close-me") ws.close(4001, "bye now");
        else if (text === "crash") ws.terminate();
        else if (text === "ping-me") ws.ping("from-upstream");
        else ws.send(data, { binary: isBinary });
      });
    });
  };
  upstream.on("upgrade", onUpgrade);
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const up = (upstream.address() as AddressInfo).port;
  // An HTTPS upstream (node:http2 with HTTP/1.1 allowed: Bun's node:https server lacks pieces,
  // docs/runtimes.md) with the book's webapp certificate, reached as wss with the service's TLS.
  secureUpstream = createSecureServer({
    cert: readFileSync(book.webappCert),
    key: readFileSync(book.webappKey),
    allowHTTP1: true,
  });
  secureUpstream.on("upgrade", onUpgrade);
  await new Promise<void>((r) => secureUpstream.listen(0, "127.0.0.1", r));
  const secure = (secureUpstream.address() as AddressInfo).port;
  [plainPort, tlsPort, mtlsPort] = await freePorts(3);
  const yaml = `listeners:
  - { name: plain, address: 127.0.0.1, port: ${plainPort}, protocol: HTTP, hosts: ["*"] }
  - name: tls
    address: 127.0.0.1
    port: ${tlsPort}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { mode: SIMPLE, credential: webapp-credential }
  - name: mtls
    address: 127.0.0.1
    port: ${mtlsPort}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { mode: MUTUAL, credential: webapp-credential-mtls }
      - hosts: [${HOST_CATALOG}]
        tls: { mode: SIMPLE, credential: catalog-credential }
${bookCredentials}
services:
  echo: http://127.0.0.1:${up}
  secure:
    url: https://127.0.0.1:${secure}
    tls: { ca: ${book.webappCaChain}, serverName: ${HOST_WEBAPP} }
routes:
  - hosts: ["*"]
    http:
      - match: [{ uri: { prefix: /wss } }]
        route: [{ destination: secure }]
      - match: [{ uri: { prefix: /off } }]
        websocket: false
        route: [{ destination: echo }]
      - match: [{ uri: { prefix: /idle } }]
        timeout: 300ms
        idleTimeout: 1500ms
        rewrite: { uri: /ws/idle }
        route: [{ destination: echo }]
      - match: [{ uri: { prefix: /ws } }]
        headers: { request: { set: { x-route: websocket } } }
        route: [{ destination: echo }]
`;
  p = await startPorticoWith(["run", "-c", writeConfig(yaml), "--admin", "off"]);
});

afterAll(async () => {
  await p?.stop();
  wss?.close();
  secureUpstream?.close();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
});

type Where = "plain" | "tls" | "mtls";
function connect(where: Where, path: string): WebSocket {
  if (where === "plain") return new WebSocket(`ws://127.0.0.1:${plainPort}${path}`);
  const port = where === "tls" ? tlsPort : mtlsPort;
  const client =
    where === "mtls"
      ? { cert: readFileSync(book.webappClientCert), key: readFileSync(book.webappClientKey) }
      : {};
  return new WebSocket(`wss://${HOST_WEBAPP}:${port}${path}`, {
    ca: readFileSync(book.webappCaChain),
    lookup: loopback,
    ...client,
  } as ConstructorParameters<typeof WebSocket>[2]);
}

/** Resolves every name to 127.0.0.1, as curl --resolve does (node asks with `all: true`). */
function loopback(_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void): void {
  if (opts.all) cb(null, [{ address: "127.0.0.1", family: 4 }]);
  else cb(null, "127.0.0.1", 4);
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) =>
    ws.once("message", (data, binary) => resolve({ data: data as Buffer, binary })),
  );
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
}

for (const where of ["plain", "tls", "mtls"] as const) {
  describe(`WebSocket over HTTP/1.1 (${where})`, () => {
    test("text and a 1 MiB binary message echo; a clean close carries code and reason", async () => {
      const ws = connect(where, `/ws/echo-${where}`);
      await opened(ws);
      ws.send("hello");
      const text = await nextMessage(ws);
      expect(text.binary).toBe(false);
      expect(String(text.data)).toBe("hello");
      const big = Buffer.alloc(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      ws.send(big);
      const echoed = await nextMessage(ws);
      expect(echoed.binary).toBe(true);
      expect(Buffer.compare(echoed.data, big)).toBe(0);
      const done = closed(ws);
      ws.send("close-me");
      expect(await done).toEqual({ code: 4001, reason: "bye now" });
    }, 20_000);

    test("pings reach the other side and pongs come back, both ways", async () => {
      const ws = connect(where, `/ws/ping-${where}`);
      await opened(ws);
      const pong = new Promise<string>((r) => ws.once("pong", (d) => r(String(d))));
      ws.ping("from-client");
      expect(await pong).toBe("from-client");
      expect(pingsSeen).toContain("from-client");
      const ping = new Promise<string>((r) => ws.once("ping", (d) => r(String(d))));
      ws.send("ping-me");
      expect(await ping).toBe("from-upstream");
      ws.close(1000, "done");
      expect((await closed(ws)).code).toBe(1000);
    });

    test("the upstream going away closes the client", async () => {
      const ws = connect(where, `/ws/crash-${where}`);
      await opened(ws);
      const done = closed(ws);
      ws.send("crash");
      expect((await done).code).toBe(1006);
    });

    test("the client going away closes the upstream", async () => {
      const path = `/ws/client-gone-${where}`;
      const ws = connect(where, path);
      await opened(ws);
      ws.send("still here");
      await nextMessage(ws);
      ws.terminate();
      for (let i = 0; i < 100 && !upstreamClosed.has(path); i++) await sleep(20);
      expect(upstreamClosed.get(path)).toBe(1006);
    });

    test("routing, header operations, x-forwarded-* reach the upstream", async () => {
      const ws = connect(where, `/ws/headers-${where}?q=1`);
      await opened(ws);
      const req = seen.get(`/ws/headers-${where}?q=1`)!;
      expect(req.headers["x-route"]).toBe("websocket");
      expect(req.headers["x-forwarded-proto"]).toBe(where === "plain" ? "http" : "https");
      expect(req.headers["x-forwarded-for"]).toBe("127.0.0.1");
      expect(req.headers.upgrade).toBe("websocket");
      if (where === "mtls") expect(req.headers["x-forwarded-client-cert"]).toContain("Hash=");
      else expect(req.headers["x-forwarded-client-cert"]).toBeUndefined();
      ws.close();
      await closed(ws);
    });
  });
}

describe("WebSocket policies", () => {
  test("an HTTPS upstream carries WebSocket too (wss with the service's CA and serverName)", async () => {
    const ws = connect("tls", "/wss/echo");
    await opened(ws);
    ws.send("over wss");
    expect(String((await nextMessage(ws)).data)).toBe("over wss");
    expect(seen.get("/wss/echo")?.headers["x-forwarded-proto"]).toBe("https");
    ws.close(1000);
    expect((await closed(ws)).code).toBe(1000);
  });

  test("bytes sent with the request or with the 101 are not lost, nor read as frames", async () => {
    const sock = netConnect(plainPort, "127.0.0.1");
    let got = "";
    sock.on("data", (d) => (got += d));
    sock.write(
      "GET /ws/raw HTTP/1.1\r\nhost: raw.example\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
        "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\nEARLY;",
    );
    for (let i = 0; i < 100 && !got.includes("EARLY;"); i++) await sleep(20);
    sock.write("LATE");
    for (let i = 0; i < 100 && !got.includes("LATE"); i++) await sleep(20);
    sock.destroy();
    expect(got).toStartWith("HTTP/1.1 101 Switching Protocols\r\n");
    expect(got).toEndWith("\r\n\r\nGREETING;EARLY;LATE");
  });

  test("the route timeout stops at the 101; idleTimeout closes an idle tunnel", async () => {
    const ws = connect("tls", "/idle");
    await opened(ws);
    const started = performance.now();
    // Busy for 1.2 s, four times the route timeout: still open.
    for (let i = 0; i < 6; i++) {
      ws.send(`tick ${i}`);
      expect(String((await nextMessage(ws)).data)).toBe(`tick ${i}`);
      await sleep(200);
    }
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const { code } = await closed(ws);
    const idleFor = performance.now() - started - 1200;
    expect(code).toBe(1006);
    expect(idleFor).toBeGreaterThan(1000);
    expect(idleFor).toBeLessThan(4000);
    expect(seen.has("/ws/idle")).toBe(true);
  }, 15_000);

  test("the 421 rule: a SIMPLE handshake cannot upgrade on the MUTUAL host", async () => {
    const sock = tlsConnect({
      port: mtlsPort,
      host: "127.0.0.1",
      servername: HOST_CATALOG,
      ca: readFileSync(book.catalogCaChain),
    });
    let got = "";
    sock.on("data", (d) => (got += d));
    sock.write(
      `GET /ws/misdirected HTTP/1.1\r\nhost: ${HOST_WEBAPP}\r\nupgrade: websocket\r\n` +
        "connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
    );
    await new Promise((r) => sock.once("close", r));
    expect(got).toStartWith("HTTP/1.1 421");
    expect(seen.has("/ws/misdirected")).toBe(false);
  });

  test("websocket: false answers 403 with no body, as Envoy does", async () => {
    const ws = connect("tls", "/off");
    const status = await new Promise<number>((resolve) => {
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode!));
      ws.once("open", () => resolve(101));
    });
    expect(status).toBe(403);
    expect(seen.has("/off")).toBe(false);
  });

  test("an upstream's refusal comes back as sent, and is logged", async () => {
    const ws = connect("plain", "/ws/reject");
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve) => {
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      });
    });
    expect(status).toBe(401);
    expect(body).toBe("nope");
    expect(p.output()).toContain("/ws/reject answered 401");
  });
});

// RFC 8441 frames by hand: the `ws` package cannot speak over an h2 stream. Client frames are
// masked (RFC 6455 §5.3), the upstream's are not.
function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const ext = len < 126 ? Buffer.alloc(0) : Buffer.alloc(len < 65536 ? 2 : 8);
  if (len >= 65536) ext.writeBigUInt64BE(BigInt(len));
  else if (len >= 126) ext.writeUInt16BE(len);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i & 3]!;
  const lenByte = len < 126 ? len : len < 65536 ? 126 : 127;
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | lenByte]), ext, mask, masked]);
}

/** Unmasked frames from the upstream, in order. */
function frames(stream: ClientHttp2Stream) {
  let buf = Buffer.alloc(0);
  const queue: { opcode: number; payload: Buffer }[] = [];
  let wake: (() => void) | undefined;
  stream.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) break;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) [len, at] = [buf.length >= 4 ? buf.readUInt16BE(2) : -1, 4];
      else if (len === 127) [len, at] = [buf.length >= 10 ? Number(buf.readBigUInt64BE(2)) : -1, 10];
      if (len < 0 || buf.length < at + len) break;
      queue.push({ opcode: buf[0]! & 0x0f, payload: buf.subarray(at, at + len) });
      buf = buf.subarray(at + len);
    }
    wake?.();
  });
  return async () => {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    return queue.shift()!;
  };
}

/** An h2 session to the MUTUAL listener (node:http2 on every runtime), with the client certificate. */
function h2session(port: number) {
  return h2connect(`https://${HOST_WEBAPP}:${port}`, {
    ca: readFileSync(book.webappCaChain),
    cert: readFileSync(book.webappClientCert),
    key: readFileSync(book.webappClientKey),
    lookup: loopback as never,
  });
}

describe("WebSocket over h2 (RFC 8441 extended CONNECT)", () => {
  test("SETTINGS_ENABLE_CONNECT_PROTOCOL is sent on SIMPLE hosts too", async () => {
    const session = h2connect(`https://${HOST_WEBAPP}:${tlsPort}`, {
      ca: readFileSync(book.webappCaChain),
      lookup: loopback as never,
    });
    try {
      const settings = await new Promise<{ enableConnectProtocol?: boolean }>((r) =>
        session.once("remoteSettings", r),
      );
      // With the default settings.requestTarget (exact) no Bun.serve serves them on Bun either;
      // under `whatwg`, bun-sni's Bun.serve would, and Bun.serve cannot advertise the setting.
      expect(settings.enableConnectProtocol ?? false).toBe(true);
    } finally {
      session.close();
    }
  });

  test("Portico advertises SETTINGS_ENABLE_CONNECT_PROTOCOL; text, 1 MiB binary and close pass", async () => {
    const session = h2session(mtlsPort);
    try {
      const settings = await new Promise<{ enableConnectProtocol?: boolean }>((r) =>
        session.once("remoteSettings", r),
      );
      expect(settings.enableConnectProtocol).toBe(true);
      const stream = session.request({
        ":method": "CONNECT",
        ":protocol": "websocket",
        ":scheme": "https",
        ":path": "/ws/h2?x=1",
        ":authority": HOST_WEBAPP,
        "sec-websocket-version": "13",
      });
      const headers = await new Promise<Record<string, unknown>>((r) => stream.once("response", r));
      expect(headers[":status"]).toBe(200);
      expect(headers["sec-websocket-accept"]).toBeUndefined();
      const req = seen.get("/ws/h2?x=1")!;
      expect(req.headers["x-route"]).toBe("websocket");
      expect(req.headers["x-forwarded-proto"]).toBe("https");
      const next = frames(stream);
      stream.write(frame(1, Buffer.from("hello h2")));
      const text = await next();
      expect(text.opcode).toBe(1);
      expect(String(text.payload)).toBe("hello h2");
      const big = randomBytes(1 << 20);
      stream.write(frame(2, big));
      const bin = await next();
      expect(bin.opcode).toBe(2);
      expect(Buffer.compare(bin.payload, big)).toBe(0);
      const code = Buffer.alloc(2);
      code.writeUInt16BE(1000);
      stream.write(frame(8, Buffer.concat([code, Buffer.from("bye")])));
      const close = await next();
      expect(close.opcode).toBe(8);
      expect(close.payload.readUInt16BE(0)).toBe(1000);
      await new Promise((r) => stream.once("close", r));
    } finally {
      session.close();
    }
  }, 20_000);

  test("websocket: false answers 403 on h2 too", async () => {
    const session = h2session(mtlsPort);
    try {
      const stream = session.request({
        ":method": "CONNECT",
        ":protocol": "websocket",
        ":scheme": "https",
        ":path": "/off",
        ":authority": HOST_WEBAPP,
        "sec-websocket-version": "13",
      });
      const headers = await new Promise<Record<string, unknown>>((r) => stream.once("response", r));
      expect(headers[":status"]).toBe(403);
    } finally {
      session.close();
    }
  });
});

// A pooled service: each upgrade takes an endpoint as a request's try does (round robin here), and
// holds its circuit slot while the tunnel is open (maxConnections: 1 refuses a second tunnel).
describe("WebSocket to a pooled service", () => {
  const servers: Server[] = [];
  let portico: PorticoProcess | undefined;
  let port = 0;
  beforeAll(async () => {
    for (const name of ["one", "two"]) {
      const server = createServer((_req, res) => res.writeHead(426).end());
      const echo = new WebSocketServer({ noServer: true });
      server.on("upgrade", (req, socket, head) =>
        echo.handleUpgrade(req, socket, head, (ws) => ws.on("message", (d) => ws.send(`${name}:${d}`))),
      );
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      servers.push(server);
    }
    const ports = servers.map((s) => (s.address() as AddressInfo).port);
    [port] = await freePorts(1);
    const config = `listeners: [{ name: web, address: 127.0.0.1, port: ${port}, protocol: HTTP }]
services:
  echo:
    endpoints: [{ address: 127.0.0.1, port: ${ports[0]} }, { address: 127.0.0.1, port: ${ports[1]} }]
    loadBalancer: { simple: ROUND_ROBIN }
  single:
    endpoints: [{ address: 127.0.0.1, port: ${ports[0]} }]
    connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }
routes:
  - hosts: ["*"]
    http:
      - match: [{ uri: { prefix: /single } }]
        route: [{ destination: single }]
      - route: [{ destination: echo }]
`;
    portico = await startPorticoWith(["run", "-c", writeConfig(config), "--admin", "off"]);
  });
  afterAll(async () => {
    await portico?.stop();
    for (const s of servers) s.close();
  });

  const roundTrip = (path: string) =>
    new Promise<{ ws: WebSocket; reply: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
      ws.on("error", reject);
      ws.on("unexpected-response", (_req, res) => reject(new Error(`status ${res.statusCode}`)));
      ws.on("open", () => ws.send("hi"));
      ws.on("message", (d) => resolve({ ws, reply: String(d) }));
    });

  test("each upgrade picks an endpoint of the pool: round robin reaches both", async () => {
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { ws, reply } = await roundTrip("/chat");
      replies.push(reply);
      ws.close();
    }
    expect(replies.sort()).toEqual(["one:hi", "one:hi", "two:hi", "two:hi"]);
  });

  test("an open tunnel holds its connection slot, and gives it back when it closes", async () => {
    // maxConnections 1, one pending: the second upgrade waits, the third is refused at once.
    const first = await roundTrip("/single/a");
    const second = roundTrip("/single/b");
    await sleep(200);
    const third = await roundTrip("/single/c").then(
      () => "open",
      (err: Error) => err.message,
    );
    expect(third).toBe("status 503");
    first.ws.close();
    const { ws, reply } = await second;
    expect(reply).toBe("one:hi");
    ws.close();
  });
});
