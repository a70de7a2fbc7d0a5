// Services with `protocol: AUTO`: Portico offers ALPN h2 and http/1.1 to a TLS upstream and speaks
// what the upstream picks. Upstreams Portico did not write: node:http2's secure server with
// allowHTTP1 (it picks h2), node:https (no h2: HTTP/1.1), a @grpc/grpc-js server over TLS (h2 only),
// one that changes from HTTP/1.1 to h2 on the same port, and ones that are down, silent or untrusted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import {
  type ClientHttp2Session,
  connect,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
} from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { type Callback, type Client, grpc, type Msg, pkg, portOf, startGrpc } from "../helpers/grpc.ts";
import { freePorts } from "../helpers/net.ts";
import { TestPki } from "../helpers/pki.ts";
import { RUNTIME, startPortico, type PorticoProcess, writeConfig } from "../helpers/portico.ts";

const pki = new TestPki();
const cert = pki.issue("upstream", "alpn.test", ["DNS:alpn.test", "IP:127.0.0.1"], "serverAuth");
const creds = { cert: readFileSync(cert.crt), key: readFileSync(cert.key) };
const caPem = readFileSync(pki.ca.crt);

/** A TLS upstream: what it saw, and how many TLS connections it accepted. */
interface Seen {
  versions: string[];
  connections: number;
}

/** Answers with the HTTP version it was reached over, and (over h2) a trailer naming it. */
function answer(seen: Seen) {
  return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    seen.versions.push(req.httpVersion);
    if (req.httpVersion === "2.0") (res as Http2ServerResponse).addTrailers({ "x-version": "2.0" });
    res.end(`HTTP/${req.httpVersion}`);
  };
}

/** node:http2 with allowHTTP1: offers h2 and http/1.1 by ALPN. */
function startBoth(seen: Seen, port = 0): Promise<Http2SecureServer> {
  const s = createSecureServer({ ...creds, allowHTTP1: true }, answer(seen));
  s.on("secureConnection", () => seen.connections++);
  // The probe closes its connection without an HTTP/2 preface.
  s.on("sessionError", () => {});
  return new Promise((r) => s.listen(port, "127.0.0.1", () => r(s)));
}

/** node:https: HTTP/1.1 only. */
function startH1(seen: Seen, port = 0): Promise<HttpsServer> {
  const s = createHttpsServer(creds, answer(seen));
  s.on("secureConnection", () => seen.connections++);
  return new Promise((r) => s.listen(port, "127.0.0.1", () => r(s)));
}

const both: Seen = { versions: [], connections: 0 };
const h1: Seen = { versions: [], connections: 0 };
const switching: Seen = { versions: [], connections: 0 };
const untrusted: Seen = { versions: [], connections: 0 };
let bothServer: Http2SecureServer;
let untrustedServer: Http2SecureServer;
let h1Server: HttpsServer;
let switchServer: HttpsServer | Http2SecureServer;
/** The sockets switchServer holds, to cut them when it changes protocol. */
const switchSockets = new Set<Socket>();
let grpcServer: grpc.Server;
/** Accepts connections and never answers the TLS handshake. */
let silent: TcpServer;
const silentSockets = new Set<Socket>();
let p: PorticoProcess;
let port: number;
let switchPort: number;
let downPort: number;
let client: Client;

beforeAll(async () => {
  bothServer = await startBoth(both);
  untrustedServer = await startBoth(untrusted);
  h1Server = await startH1(h1);
  switchServer = await startH1(switching);
  switchServer.on("connection", (s: Socket) => switchSockets.add(s));
  switchPort = (switchServer.address() as { port: number }).port;
  grpcServer = await startGrpc(
    "auto",
    grpc.ServerCredentials.createSsl(null, [{ cert_chain: creds.cert, private_key: creds.key }]),
  );
  silent = createTcpServer((s) => silentSockets.add(s));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const [listen, down] = await freePorts(2);
  port = listen!;
  downPort = down!;
  const tls = `{ ca: ${pki.ca.crt}, serverName: alpn.test }`;
  const service = (p: number) => `{ url: "https://127.0.0.1:${p}", protocol: AUTO, tls: ${tls} }`;
  // whatwg lets Bun.serve serve the listener unless a need says otherwise: here, the trailers
  // an AUTO service may send.
  const config = writeConfig(`
settings: { requestTarget: whatwg }
listeners:
  - name: web
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - hosts: ["*"]
        tls: { mode: SIMPLE, credential: server }
credentials:
  server: { cert: ${cert.crt}, key: ${cert.key} }
services:
  both: ${service((bothServer.address() as { port: number }).port)}
  h1: ${service((h1Server.address() as { port: number }).port)}
  switching: ${service(switchPort)}
  grpc: ${service(portOf(grpcServer))}
  down: ${service(down!)}
  pooled:
    endpoints: [{ address: 127.0.0.1, port: ${(bothServer.address() as { port: number }).port} }]
    protocol: AUTO
    tls: ${tls}
  silent: ${service((silent.address() as { port: number }).port)}
  untrusted: { url: "https://127.0.0.1:${(untrustedServer.address() as { port: number }).port}", protocol: AUTO }
routes:
  - hosts: ["*"]
    http:
      - match: [{ uri: { prefix: /echo.Echo/ } }]
        route: [{ destination: grpc }]
      - match: [{ uri: { prefix: /both/pooled } }]
        route: [{ destination: pooled }]
      - match: [{ uri: { prefix: /both } }]
        route: [{ destination: both }]
      - match: [{ uri: { prefix: /h1 } }]
        route: [{ destination: h1 }]
      - match: [{ uri: { prefix: /switching } }]
        route: [{ destination: switching }]
      - match: [{ uri: { prefix: /down } }]
        route: [{ destination: down }]
      - match: [{ uri: { prefix: /silent } }]
        timeout: 300ms
        route: [{ destination: silent }]
      - match: [{ uri: { prefix: /untrusted } }]
        route: [{ destination: untrusted }]
`);
  p = await startPortico(config);
  client = new pkg.echo.Echo(`127.0.0.1:${port}`, grpc.credentials.createSsl(caPem), {
    "grpc.ssl_target_name_override": "alpn.test",
  });
});

afterAll(async () => {
  client?.close();
  await p?.stop();
  grpcServer?.forceShutdown();
  for (const s of silentSockets) s.destroy();
  silent?.close();
  for (const s of [bothServer, untrustedServer, h1Server, switchServer]) {
    s?.close();
    (s as HttpsServer | undefined)?.closeAllConnections?.();
  }
});

describe(`protocol AUTO on ${RUNTIME}`, () => {
  test("an upstream that offers h2 and http/1.1 is reached over HTTP/2; its trailers arrive", async () => {
    const r = await get("/both");
    expect(r.status).toBe(200);
    expect(r.body).toBe("HTTP/2.0");
    expect(r.trailers?.["x-version"]).toBe("2.0");
    expect(both.versions).toEqual(["2.0"]);
  });

  test("once learnt, requests share the h2 connection: one probe handshake per origin, not per request", async () => {
    const session = connect(`https://127.0.0.1:${port}`, { ca: caPem, servername: "alpn.test" });
    const many = await Promise.all(Array.from({ length: 10 }, () => get("/both/many", session)));
    session.close();
    expect(many.map((r) => r.body)).toEqual(Array(10).fill("HTTP/2.0"));
    // The probe's connection and the h2 client's one.
    expect(both.connections).toBe(2);
  });

  test("a pooled service (endpoints with tls) learns per endpoint", async () => {
    const r = await get("/both/pooled");
    expect(r.body).toBe("HTTP/2.0");
    expect(both.versions.at(-1)).toBe("2.0");
  });

  test("an upstream that speaks only http/1.1 is reached over HTTP/1.1", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await get("/h1");
      expect(r.status).toBe(200);
      expect(r.body).toBe("HTTP/1.1");
    }
    expect(h1.versions).toEqual(["1.1", "1.1", "1.1"]);
    // The probe's connection and one kept-alive connection.
    expect(h1.connections).toBe(2);
  });

  test("a gRPC (h2 only, grpc-js over TLS) upstream: unary with its trailers, and streaming", async () => {
    const unary = (text: string) =>
      new Promise<{ err: grpc.ServiceError | null; res?: Msg }>((resolve) =>
        client.Unary({ text, n: 1 }, ((err, res) => resolve({ err, res })) as Callback),
      );
    expect(await unary("hi")).toEqual({ err: null, res: { text: "auto:hi", n: 2 } });
    const { err } = await unary("fail");
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe("bad input: ünïcode 100%");
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.ServerStream({ text: "s", n: 3 });
      call.on("data", (m: Msg) => got.push(m.text));
      call.on("error", reject);
      call.on("end", resolve);
    });
    expect(got).toEqual(["s0", "s1", "s2"]);
  });

  test("an upstream that is down: 503, upstream connect error; a failed probe is not an answer", async () => {
    const r = await get("/down");
    expect(r.status).toBe(503);
    expect(r.body).toContain("upstream connect error");
    const up: Seen = { versions: [], connections: 0 };
    const server = await startBoth(up, downPort);
    try {
      expect((await get("/down")).body).toBe("HTTP/2.0");
    } finally {
      server.close();
    }
  });

  test("the route timeout bounds a probe that gets no handshake", async () => {
    const started = Date.now();
    const r = await get("/silent");
    expect(r.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test("the probe verifies the upstream as the service's TLS settings say", async () => {
    // The service trusts the system's CAs, which did not sign the upstream's certificate.
    const r = await get("/untrusted");
    expect(r.status).toBe(503);
    // The probe refused the certificate before the handshake completed: no connection at all.
    expect(untrusted.connections).toBe(0);
    expect(untrusted.versions).toEqual([]);
  });

  test("an upstream that changes from HTTP/1.1 to h2 only is learnt again after a failure", async () => {
    expect((await get("/switching")).body).toBe("HTTP/1.1");
    await new Promise((r) => switchServer.close(r));
    for (const s of switchSockets) s.destroy();
    // h2 only: a connection that offers only http/1.1 fails its handshake.
    const h2only = createSecureServer({ ...creds, allowHTTP1: false }, answer(switching));
    h2only.on("secureConnection", () => switching.connections++);
    h2only.on("sessionError", () => {});
    h2only.on("unknownProtocol", (s: Socket) => s.destroy());
    await new Promise<void>((r) => h2only.listen(switchPort, "127.0.0.1", r));
    switchServer = h2only;
    const statuses: number[] = [];
    for (let i = 0; i < 4 && statuses.at(-1) !== 200; i++) {
      const r = await get("/switching");
      statuses.push(r.status);
      if (r.status === 200) expect(r.body).toBe("HTTP/2.0");
    }
    // One request fails (it finds the change: the HTTP/1.1 client's handshake is refused), then
    // the probe learns h2.
    expect(statuses).toEqual([503, 200]);
    expect(switching.versions).toEqual(["1.1", "2.0"]);
  });
});

/** One GET over a fresh HTTP/2 TLS connection to Portico. */
/**
 * One request on its own h2 connection, or on `shared` (left open). Concurrent requests share
 * one: many client connections opening and closing at once can abort Deno's node:http2 server
 * (docs/runtimes.md), which is not what these tests are about.
 */
function get(
  path: string,
  shared?: ClientHttp2Session,
): Promise<{ status: number; body: string; trailers?: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const session = shared ?? connect(`https://127.0.0.1:${port}`, { ca: caPem, servername: "alpn.test" });
    session.on("error", reject);
    const stream = session.request({ ":path": path });
    let status = 0;
    let trailers: IncomingHttpHeaders | undefined;
    let body = "";
    stream.on("response", (h) => (status = Number(h[":status"])));
    stream.on("trailers", (t) => (trailers = t));
    stream.setEncoding("utf8");
    stream.on("data", (d) => (body += d));
    stream.on("error", reject);
    stream.on("end", () => {
      if (!shared) session.close();
      resolve({ status, body, trailers });
    });
    stream.end();
  });
}
