// The node servers' `upgrade` event (node:http, and node:http2 secure servers for their
// HTTP/1.1 connections): the request goes to the handler like any other, with
// `ConnectionInfo.upgrade` set; a tunnel in its answer (tunnel.ts) gets the 101 and the raw
// connection, any other answer is written back and the connection closed. Checked on Bun, Deno
// and Node: all three emit `upgrade` with the raw socket, also for connections handed over with
// emit("connection") and for servers listening on loopback.

import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { UpgradeFailedError } from "../../util/errors.ts";
import type { ConnectionTracker } from "./connections.ts";
import { internalError } from "./internal-error.ts";
import { tunnelOf, type Tunnel } from "./tunnel.ts";
import type { ConnectionInfo, HttpListenerSpec, ResponseEnd } from "./types.ts";

/** Connection-level headers of the answer that the 101 or the refusal sets itself. */
const OWN = new Set(["connection", "upgrade", "transfer-encoding", "keep-alive"]);

export function upgradeListener(
  spec: HttpListenerSpec,
  tracker: ConnectionTracker,
  scheme: "http" | "https",
  connInfo: (req: IncomingMessage) => ConnectionInfo,
  /** False: the connection must not be served (client-cert-guard.ts); it is destroyed. */
  admit?: (req: IncomingMessage) => boolean,
) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (admit && !admit(req)) return void socket.destroy();
    tracker.begin();
    socket.once("close", () => tracker.end());
    socket.on("error", () => socket.destroy());
    void serveUpgrade(spec, scheme, req, socket, head, connInfo(req));
  };
}

async function serveUpgrade(
  spec: HttpListenerSpec,
  scheme: string,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  info: ConnectionInfo,
): Promise<void> {
  // The server's own inactivity timer would cut a tunnel that the route's idleTimeout allows.
  (socket as Socket).setTimeout?.(0);
  const controller = new AbortController();
  const gone = () => controller.abort(new Error("client closed the connection"));
  socket.once("close", gone);
  let res: Response;
  try {
    const headers = new Headers();
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    const url = `${scheme}://${req.headers.host ?? ""}${req.url ?? "/"}`;
    const request = new Request(url, { method: req.method, headers, signal: controller.signal });
    res = await spec.handler(request, { ...info, upgrade: true });
  } catch (err) {
    res = err instanceof TypeError ? new Response(null, { status: 400 }) : internalError(spec, err);
  }
  socket.off("close", gone);
  const tunnel = tunnelOf(res);
  if (socket.destroyed) return void tunnel?.upstream.destroy();
  if (tunnel) {
    const line = `connection: Upgrade\r\nupgrade: ${tunnel.protocol}\r\n`;
    const accept = () => socket.write(headLines("101 Switching Protocols", res, line));
    return relay(socket, head, tunnel, accept, tunnelEnd(spec, res));
  }
  spec.onError?.(
    new UpgradeFailedError(
      `${spec.name}: upgrade to ${req.headers.upgrade} for ${req.headers.host}${req.url} ` +
        `answered ${res.status}, connection closed`,
    ),
  );
  const sent = await writeRefusal(socket, res);
  spec.events?.responseEnd?.(res, sent);
}

/**
 * RFC 8441: WebSocket over one h2 stream, an extended CONNECT with `:protocol`, which
 * node:http2's compatibility layer emits as "connect" (with no listener it answers 405; checked
 * on Bun, Deno and Node, each with `enableConnectProtocol` advertised). Envoy turns it into an
 * HTTP/1.1 upgrade towards the upstream, and so does this: GET with `upgrade`, a
 * `sec-websocket-key` when the client sent none (h2 clients do not, RFC 8441 §5), and the
 * upstream's 101 becomes `:status 200` (without `sec-websocket-accept`) on the stream, which
 * then carries the bytes. A CONNECT without `:protocol` (a TCP tunnel) is not offered: 405.
 */
export function connectListener(
  spec: HttpListenerSpec,
  tracker: ConnectionTracker,
  connInfo: (req: Http2ServerRequest) => ConnectionInfo,
  admit?: (req: Http2ServerRequest) => boolean,
) {
  return (req: Http2ServerRequest) => {
    if (admit && !admit(req)) return void req.socket.destroy();
    const stream = req.stream;
    const protocol = req.headers[":protocol"];
    if (typeof protocol !== "string") return void stream.respond({ ":status": 405 }, { endStream: true });
    tracker.begin();
    stream.once("close", () => tracker.end());
    stream.on("error", () => stream.destroy());
    void serveConnect(spec, req, stream, protocol, connInfo(req));
  };
}

async function serveConnect(
  spec: HttpListenerSpec,
  req: Http2ServerRequest,
  stream: ServerHttp2Stream,
  protocol: string,
  info: ConnectionInfo,
): Promise<void> {
  const controller = new AbortController();
  const gone = () => controller.abort(new Error("client closed the stream"));
  stream.once("close", gone);
  const authority = req.headers[":authority"] ?? "";
  const path = req.headers[":path"] ?? "/";
  let res: Response;
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith(":") || value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    headers.set("connection", "upgrade");
    headers.set("upgrade", protocol);
    if (protocol === "websocket" && !headers.has("sec-websocket-key")) {
      headers.set(
        "sec-websocket-key",
        btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16)))),
      );
    }
    const request = new Request(`https://${authority}${path}`, {
      method: "GET",
      headers,
      signal: controller.signal,
    });
    res = await spec.handler(request, { ...info, upgrade: true });
  } catch (err) {
    res = err instanceof TypeError ? new Response(null, { status: 400 }) : internalError(spec, err);
  }
  stream.off("close", gone);
  const tunnel = tunnelOf(res);
  if (stream.destroyed || stream.closed) return void tunnel?.upstream.destroy();
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of res.headers) {
    if (!OWN.has(name) && name !== "set-cookie" && name !== "sec-websocket-accept") out[name] = value;
  }
  const cookies = res.headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  if (tunnel) {
    const accept = () => stream.respond({ ...out, ":status": 200 });
    return relay(stream, new Uint8Array(0), tunnel, accept, tunnelEnd(spec, res));
  }
  spec.onError?.(
    new UpgradeFailedError(
      `${spec.name}: upgrade to ${protocol} (h2 CONNECT) for ${authority}${path} ` +
        `answered ${res.status}, stream closed`,
    ),
  );
  stream.respond({ ...out, ":status": res.status });
  const sent = await writeBodyAndEnd(stream, res);
  spec.events?.responseEnd?.(res, sent);
}

function headLines(status: string, res: Response, extra: string): string {
  let head = `HTTP/1.1 ${status}\r\n`;
  for (const [name, value] of res.headers) {
    if (!OWN.has(name) && name !== "set-cookie") head += `${name}: ${value}\r\n`;
  }
  for (const cookie of res.headers.getSetCookie()) head += `set-cookie: ${cookie}\r\n`;
  return `${head}${extra}\r\n`;
}

/**
 * Any answer but a tunnel ends the connection, as Envoy does after refusing an upgrade (it may
 * carry upgrade payload the upstream never accepted). The body streams, delimited by the close
 * when it has no length.
 */
async function writeRefusal(socket: Duplex, res: Response): Promise<ResponseEnd> {
  socket.write(headLines(`${res.status} ${res.statusText}`.trimEnd(), res, "connection: close\r\n"));
  return writeBodyAndEnd(socket, res);
}

/** The body with backpressure, then the end; a body or socket failure destroys the socket. */
async function writeBodyAndEnd(out: Duplex, res: Response): Promise<ResponseEnd> {
  let bytesSent = 0;
  try {
    if (res.body)
      for await (const chunk of res.body) {
        bytesSent += chunk.length;
        if (!out.write(chunk)) await drained(out);
      }
  } catch {
    out.destroy();
    return { bytesSent, clientClosed: true };
  }
  out.end();
  return { bytesSent, clientClosed: false };
}

function drained(socket: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.once("drain", done);
    socket.once("close", done);
  });
}

/** The listener's responseEnd for a tunnel's Response, when it has one. */
function tunnelEnd(spec: HttpListenerSpec, res: Response): ((e: ResponseEnd) => void) | undefined {
  const hook = spec.events?.responseEnd;
  return hook && ((e) => hook(res, e));
}

/**
 * Bytes both ways with backpressure (pipe). A FIN from one side is passed on (half close); an
 * error or a full close on either side, or no byte either way for the idle timeout, closes both.
 */
function relay(
  client: Duplex,
  clientHead: Uint8Array,
  t: Tunnel,
  accept: () => void,
  /** Told once, when the tunnel closes: bytes each way and whether the client closed first. */
  onEnd?: (e: ResponseEnd) => void,
): void {
  const up = t.upstream;
  accept();
  if (t.head.length > 0) client.write(t.head);
  if (clientHead.length > 0) up.write(clientHead);
  (client as Socket).setNoDelay?.(true);
  (up as Socket).setNoDelay?.(true);
  let last = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sent = t.head.length;
  let received = clientHead.length;
  let ended = false;
  // Who ended first (a FIN counts: runtimes differ in when a half-closed socket emits "close").
  let first: "client" | "upstream" | undefined;
  client.once("end", () => (first ??= "client"));
  up.once("end", () => (first ??= "upstream"));
  const closeBoth = (byClient: boolean) => {
    clearTimeout(timer);
    if (!ended) {
      ended = true;
      const clientClosed = first === undefined ? byClient : first === "client";
      onEnd?.({ bytesSent: sent, bytesReceived: received, clientClosed });
    }
    client.destroy();
    up.destroy();
  };
  client.on("data", (chunk: Uint8Array) => {
    last = performance.now();
    received += chunk.length;
  });
  up.on("data", (chunk: Uint8Array) => {
    last = performance.now();
    sent += chunk.length;
  });
  const byClient = () => closeBoth(true);
  const byUpstream = () => closeBoth(false);
  client.on("error", byClient);
  up.on("error", byUpstream);
  client.once("close", byClient);
  up.once("close", byUpstream);
  client.pipe(up);
  up.pipe(client);
  const ms = t.idleTimeoutMs;
  if (ms > 0) {
    const check = () => {
      const idle = performance.now() - last;
      if (idle >= ms) closeBoth(false);
      else timer = setTimeout(check, ms - idle);
    };
    timer = setTimeout(check, ms);
  }
}
