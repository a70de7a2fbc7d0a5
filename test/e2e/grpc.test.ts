// gRPC and HTTP/2 upstreams end to end: a @grpc/grpc-js client over TLS to Portico, @grpc/grpc-js
// servers behind it as an h2c upstream (as Istio reaches a gRPC port) and as an h2 (TLS, ALPN)
// upstream; trailers from a plain node:http2 upstream; Portico's own failures as gRPC statuses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import {
  connect,
  constants,
  createServer,
  type ClientHttp2Session,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import {
  BINARY,
  type Callback,
  type Client,
  grpc,
  type Msg,
  pkg,
  portOf,
  startGrpc,
} from "../helpers/grpc.ts";
import { freePorts } from "../helpers/net.ts";
import { TestPki } from "../helpers/pki.ts";
import { RUNTIME, runPortico, startPortico, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

const pki = new TestPki();
const server = pki.issue("server", "grpc.test", ["DNS:grpc.test", "IP:127.0.0.1"], "serverAuth");
const caPem = readFileSync(pki.ca.crt);

let h2c: grpc.Server;
let h2tls: grpc.Server;
let plainH2: Http2Server;
let h1: HttpServer;
/** The upstream connections plainH2 has seen. */
const sessions = new Set<unknown>();
let p: PorticoProcess;
let port: number;
let client: Client;
let missing: Client;

beforeAll(async () => {
  h2c = await startGrpc("h2c", grpc.ServerCredentials.createInsecure());
  h2tls = await startGrpc(
    "h2",
    grpc.ServerCredentials.createSsl(null, [
      { cert_chain: readFileSync(server.crt), private_key: readFileSync(server.key) },
    ]),
  );
  // A non-gRPC h2c upstream that ends its response with trailers, and no content-length.
  plainH2 = createServer();
  // A connection Portico drops (GOAWAY, shutdown) must not become an uncaught error here.
  plainH2.on("sessionError", () => {});
  // The session's socket may not be touched (Bun refuses): the raw sockets, by client port.
  const sockets = new Map<number, Socket>();
  plainH2.on("connection", (socket: Socket) => {
    sockets.set(socket.remotePort ?? 0, socket);
    socket.once("close", () => sockets.delete(socket.remotePort ?? 0));
  });
  plainH2.on("stream", (stream: ServerHttp2Stream, headers) => {
    sessions.add(stream.session);
    if (headers[":path"] === "/trailers/goaway") {
      stream.respond({ ":status": 200 }, { endStream: true });
      // GOAWAY, then the connection closes: the next request needs a new one.
      return void stream.session?.close();
    }
    if (headers[":path"] === "/trailers/reset") {
      stream.on("error", () => {}); // the error that resets the stream is ours
      stream.respond({ ":status": 200 });
      stream.write("half");
      // destroy() sends RST_STREAM INTERNAL_ERROR; close(code) after a write ends the stream cleanly.
      return void setTimeout(() => stream.destroy(new Error("upstream gives up")), 20);
    }
    if (headers[":path"] === "/trailers/drop") {
      stream.respond({ ":status": 200 });
      stream.write("half");
      // The upstream connection dies mid-body: no RST_STREAM, no GOAWAY, just a closed socket.
      const socket = sockets.get(stream.session?.socket.remotePort ?? 0);
      return void setTimeout(() => socket?.destroy(), 20);
    }
    if (headers[":path"] === "/slow") {
      const t = setTimeout(() => stream.respond({ ":status": 200 }, { endStream: true }), 3000);
      return void stream.on("close", () => clearTimeout(t));
    }
    stream.respond({ ":status": 200, "content-type": "text/plain" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "x-checksum": "c0ffee", "x-count": "2" }));
    stream.write("part one, ");
    setTimeout(() => stream.end("part two"), 20);
  });
  await new Promise<void>((r) => plainH2.listen(0, "127.0.0.1", r));
  // An HTTP/1.1 upstream answering chunked, with a trailer.
  h1 = createHttpServer((req, res) => {
    // All at once, chunked: a listener that buffers the first reads could count the length.
    if (req.url === "/chunked/drop") {
      res.write("chunk one, ");
      return void setTimeout(() => req.socket.destroy(), 20);
    }
    if (req.url === "/chunked/fast") {
      res.write("all at ");
      return void res.end("once");
    }
    res.writeHead(200, { "content-type": "text/plain", trailer: "x-checksum" });
    res.write("chunk one, ");
    setTimeout(() => {
      res.addTrailers({ "x-checksum": "h1-trailer" });
      res.end("chunk two");
    }, 20);
  });
  await new Promise<void>((r) => h1.listen(0, "127.0.0.1", r));
  const [listen, down] = await freePorts(2);
  port = listen!;
  const plainPort = (plainH2.address() as { port: number }).port;
  const config = writeConfig(`
listeners:
  - name: grpc
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - hosts: ["*"]
        tls: { mode: SIMPLE, credential: server }
credentials:
  server: { cert: ${server.crt}, key: ${server.key} }
services:
  echo-h2c: h2c://127.0.0.1:${portOf(h2c)}
  echo-h2:
    url: https://127.0.0.1:${portOf(h2tls)}
    protocol: GRPC
    tls: { ca: ${pki.ca.crt} }
  down: { url: "http://127.0.0.1:${down}", protocol: http2 }
  trailers: h2c://127.0.0.1:${plainPort}
  # A pool with a connection limit holds each try's slot until the body ends (pool-tries.ts).
  trailers-pooled:
    endpoints: [{ address: 127.0.0.1, port: ${plainPort} }]
    protocol: HTTP2
    connectionPool: { http: { http2MaxRequests: 100 } }
  chunked: http://127.0.0.1:${(h1.address() as { port: number }).port}
routes:
  - hosts: ["*"]
    http:
      - match: [{ headers: { x-upstream: { exact: tls } } }]
        route: [{ destination: echo-h2 }]
      - match: [{ headers: { x-upstream: { exact: down } } }]
        route: [{ destination: down }]
      - match: [{ headers: { x-upstream: { exact: pooled } } }]
        route: [{ destination: trailers-pooled }]
      - match: [{ uri: { prefix: /echo.Echo/ } }]
        timeout: 10s
        route: [{ destination: echo-h2c }]
      - match: [{ uri: { prefix: /chunked } }]
        route: [{ destination: chunked }]
      - match: [{ uri: { prefix: /trailers } }, { uri: { exact: /slow } }]
        route: [{ destination: trailers }]
`);
  p = await startPortico(config);
  const creds = grpc.credentials.createSsl(caPem);
  const opts = { "grpc.ssl_target_name_override": "grpc.test" };
  client = new pkg.echo.Echo(`127.0.0.1:${port}`, creds, opts);
  missing = new pkg.echo.Missing(`127.0.0.1:${port}`, creds, opts);
});

afterAll(async () => {
  client?.close();
  missing?.close();
  await p?.stop();
  h2c?.forceShutdown();
  h2tls?.forceShutdown();
  plainH2?.close();
  h1?.close();
});

function unary(text: string, md = new grpc.Metadata(), options: grpc.CallOptions = {}) {
  return new Promise<{ err: grpc.ServiceError | null; res?: Msg; headers?: grpc.Metadata }>((resolve) => {
    let headers: grpc.Metadata | undefined;
    const call = client.Unary({ text, n: 41 }, md, options, ((err, res) =>
      resolve({ err, res, headers })) as Callback);
    call.on("metadata", (m: grpc.Metadata) => (headers = m));
  });
}

describe(`gRPC through Portico on ${RUNTIME}`, () => {
  test("unary over h2c, with binary metadata in the response headers", async () => {
    const { err, res, headers } = await unary("hi");
    expect(err).toBeNull();
    expect(res).toEqual({ text: "h2c:hi", n: 42 });
    expect(headers?.get("x-init-bin")[0]).toEqual(BINARY);
    expect(headers?.get("x-who")).toEqual(["h2c"]);
  });

  test("unary to an h2 (TLS, ALPN) upstream", async () => {
    const md = new grpc.Metadata();
    md.set("x-upstream", "tls");
    const { err, res } = await unary("hi", md);
    expect(err).toBeNull();
    expect(res).toEqual({ text: "h2:hi", n: 42 });
  });

  test("an error status with its message and binary trailer metadata arrives intact", async () => {
    const { err } = await unary("fail");
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe("bad input: ünïcode 100%");
    expect(err?.metadata.get("detail-bin")[0]).toEqual(BINARY);
    expect(err?.metadata.get("x-reason")).toEqual(["bad"]);
  });

  test("server streaming", async () => {
    const got: Msg[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.ServerStream({ text: "m", n: 5 });
      call.on("data", (m: Msg) => got.push(m));
      call.on("error", reject);
      call.on("end", resolve);
    });
    expect(got.map((m) => m.text)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
  });

  test("client streaming", async () => {
    const res = await new Promise<Msg>((resolve, reject) => {
      const call = client.ClientStream(((err, r) => (err ? reject(err) : resolve(r!))) as Callback);
      for (const t of ["a", "b", "c"]) call.write({ text: t, n: 0 });
      call.end();
    });
    expect(res).toEqual({ text: "a,b,c", n: 3 });
  });

  test("bidirectional streaming, one message at a time", async () => {
    const call = client.Bidi();
    const replies: Msg[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on("error", reject);
      call.on("end", resolve);
    });
    for (const t of ["x", "y", "z"]) {
      const next = new Promise<Msg>((r) => call.once("data", r));
      call.write({ text: t, n: 1 });
      // Each reply arrives before the next message is sent: the stream is not buffered whole.
      replies.push(await next);
    }
    call.end();
    await ended;
    expect(replies.map((m) => m.text)).toEqual(["X", "Y", "Z"]);
  });

  test("a client deadline ends the call with DEADLINE_EXCEEDED", async () => {
    const started = Date.now();
    const { err } = await unary("slow", new grpc.Metadata(), { deadline: Date.now() + 300 });
    expect(err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  test("grpc-timeout bounds the wait at Portico (Envoy: UNAVAILABLE, upstream request timeout)", async () => {
    // The upstream sends no headers for 3 s and ignores the deadline.
    const r = await rawH2("/slow", { "grpc-timeout": "300m" }, frame("slow"));
    expect(r.elapsed).toBeLessThan(2500);
    expect(Number(r.headers[":status"])).toBe(200);
    expect(r.headers["content-type"]).toBe("application/grpc");
    expect(r.headers["grpc-status"]).toBe("14");
    expect(r.headers["grpc-message"]).toBe("upstream request timeout");
  });

  test("upstream down → UNAVAILABLE", async () => {
    const md = new grpc.Metadata();
    md.set("x-upstream", "down");
    const { err } = await unary("hi", md);
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details).toContain("upstream connect error");
  });

  test("no route → UNIMPLEMENTED", async () => {
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      missing.Call({ text: "x", n: 0 }, ((e) => resolve(e)) as Callback),
    );
    expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
    // Portico's own answer, not grpc-js reading an HTTP 404: a trailers-only gRPC response.
    const r = await rawH2("/echo.Missing/Call", {}, frame("x"));
    expect(Number(r.headers[":status"])).toBe(200);
    expect(r.headers["grpc-status"]).toBe("12");
    expect(r.headers["grpc-message"]).toBe("no route for this request");
    expect(r.body).toBe("");
  });

  test("trailers of a plain h2 upstream reach an h2 client; no content-length is invented", async () => {
    const r = await rawH2("/trailers", {}, null, "GET");
    expect(r.body).toBe("part one, part two");
    expect(r.headers["content-length"]).toBeUndefined();
    expect(r.trailers).toMatchObject({ "x-checksum": "c0ffee", "x-count": "2" });
  });
});

describe(`HTTP/2 upstream connections on ${RUNTIME}`, () => {
  test("many requests share one connection; after GOAWAY a new one is opened", async () => {
    sessions.clear();
    // 20 streams on one client connection: what is shared or not is the upstream side. (Twenty
    // client connections opened and closed at once under load also trip a crash inside Deno's
    // node:http2 server, denoland/deno#36788: docs/runtimes.md.)
    const client = portico();
    const many = await Promise.all(
      Array.from({ length: 20 }, () => rawH2("/trailers", {}, null, "GET", client)),
    ).finally(() => client.close());
    expect(
      many.map((r) => `${r.headers[":status"]} ${r.body}`).filter((b) => b !== "200 part one, part two"),
    ).toEqual([]);
    expect(sessions.size).toBe(1);
    expect(Number((await rawH2("/trailers/goaway", {}, null, "GET")).headers[":status"])).toBe(200);
    for (let i = 0; i < 3; i++) {
      const r = await rawH2("/trailers", {}, null, "GET");
      expect(Number(r.headers[":status"])).toBe(200);
      expect(r.trailers?.["x-checksum"]).toBe("c0ffee");
    }
    expect(sessions.size).toBe(2);
  });
});

test(`trailers survive a pool that holds its slot until the body ends (${RUNTIME})`, async () => {
  const r = await rawH2("/trailers", { "x-upstream": "pooled" }, null, "GET");
  expect(r.body).toBe("part one, part two");
  expect(r.trailers).toMatchObject({ "x-checksum": "c0ffee", "x-count": "2" });
});

test(`an upstream stream reset mid-body resets the client's stream, never a clean end (${RUNTIME})`, async () => {
  const outcome = await rawH2("/trailers/reset", {}, null, "GET").then(
    () => "ended",
    (err: Error) => `error: ${err.message}`,
  );
  expect(outcome).toStartWith("error:");
});

test(`an upstream connection lost mid-body resets the client's stream, never a clean end (${RUNTIME})`, async () => {
  const outcome = await rawH2("/trailers/drop", {}, null, "GET").then(
    (r) => `ended: ${r.body}`,
    (err: Error) => `error: ${err.message}`,
  );
  expect(outcome).toStartWith("error:");
});

test(`an HTTP/1.1 upstream connection lost mid-body resets the client's stream (${RUNTIME})`, async () => {
  const outcome = await rawH2("/chunked/drop", {}, null, "GET").then(
    (r) => `ended: ${r.body}`,
    (err: Error) => `error: ${err.message}`,
  );
  expect(outcome).toStartWith("error:");
});

test(`an HTTP/1.1 chunked upstream: no content-length invented; its trailers on ${RUNTIME}`, async () => {
  const r = await rawH2("/chunked", {}, null, "GET");
  expect(r.body).toBe("chunk one, chunk two");
  expect(r.headers["content-length"]).toBeUndefined();
  const fast = await rawH2("/chunked/fast", {}, null, "GET");
  expect(fast.body).toBe("all at once");
  expect(fast.headers["content-length"]).toBeUndefined();
  // Bun's fetch, the HTTP/1.1 client there, does not expose trailers; node:http (Deno, Node) does.
  if (RUNTIME === "bun") expect(r.trailers?.["x-checksum"]).toBeUndefined();
  else expect(r.trailers?.["x-checksum"]).toBe("h1-trailer");
});

describe("HTTP/3 is refused with the reason", () => {
  test("a service asking for HTTP/3", async () => {
    const config = writeConfig(`
services:
  a: { url: "http://127.0.0.1:1", protocol: HTTP3 }
  b: h3://127.0.0.1:2
`);
    const r = await runPortico(["validate", "-c", config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("services.a.protocol: HTTP/3 (QUIC) is not supported");
    expect(r.stderr).toContain("services.b: HTTP/3 (QUIC) is not supported");
  });
});

/** One gRPC message frame: uncompressed, a Msg with field 1 = text. */
function frame(text: string): Buffer {
  const bytes = Buffer.from(text);
  const msg = Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** One request over a fresh node:http2 TLS connection to Portico. */
/** A node:http2 connection to Portico over TLS. */
function portico(): ClientHttp2Session {
  return connect(`https://127.0.0.1:${port}`, { ca: caPem, servername: "grpc.test" });
}

function rawH2(
  path: string,
  extra: Record<string, string>,
  body: Buffer | null,
  method = "POST",
  /** A connection to send on and leave open; absent: a fresh one, closed after the response. */
  shared?: ClientHttp2Session,
): Promise<{ headers: IncomingHttpHeaders; trailers?: IncomingHttpHeaders; body: string; elapsed: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const session = shared ?? portico();
    session.on("error", reject);
    const grpcHeaders = body ? { "content-type": "application/grpc", te: "trailers" } : {};
    const stream = session.request({ ":method": method, ":path": path, ...grpcHeaders, ...extra });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    let text = "";
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.setEncoding("utf8");
    stream.on("data", (d) => (text += d));
    stream.on("error", reject);
    // Some clients (Bun's node:http2) emit "end" for the streams of a connection that dies: only
    // an end followed by a close without a reset code is a complete response.
    let ended = false;
    stream.on("end", () => (ended = true));
    stream.on("close", () => {
      session.removeListener("error", reject);
      if (!shared) session.close();
      if (!ended || stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        return reject(new Error(`stream closed (${stream.rstCode}) after ${JSON.stringify(text)}`));
      }
      resolve({ headers, trailers, body: text, elapsed: Date.now() - started });
    });
    stream.end(body ?? undefined);
  });
}
