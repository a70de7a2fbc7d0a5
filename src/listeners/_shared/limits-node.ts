// The listener limits (config/limits.ts) on Portico's node:http, node:https and node:http2
// servers, the same on Bun, Deno and Node. What a server option enforces alike on the three
// runtimes is passed as one; the rest is counted here, per connection, from events every runtime
// emits (a request, a connection, a session), so no runtime's own default decides:
// - the header count (node:http keeps `maxHeadersCount` headers and silently drops the rest, where
//   Envoy answers 431): counted in the request's rawHeaders;
// - requestHeadersTimeout: a timer from the connection (after the TLS handshake) to its first
//   request; later requests on a kept-alive connection are bounded by idleTimeout between them;
// - maxRequestsPerConnection: HTTP/1.1 `connection: close` on the Nth response, HTTP/2 GOAWAY
//   (a graceful session.close()) after the Nth stream, as Envoy's max_requests_per_connection.

import type { Socket } from "node:net";
import type { Server as HttpServer, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, Http2Session } from "node:http2";
import { DEFAULT_LIMITS, type ListenerLimits } from "../../config/limits.ts";
import type { HttpListenerSpec } from "./types.ts";

export function limitsOf(spec: HttpListenerSpec): ListenerLimits {
  return spec.limits ?? DEFAULT_LIMITS;
}

/** node:http / node:https server options: the header size (431 past it) and keep-alive idle. */
export function h1Options(limits: ListenerLimits): { maxHeaderSize: number; keepAliveTimeout: number } {
  return { maxHeaderSize: limits.maxRequestHeadersKb * 1024, keepAliveTimeout: limits.idleTimeoutMs ?? 0 };
}

/** node:http2 secure server options: h2 SETTINGS for streams and header list size. */
export function h2Settings(limits: ListenerLimits): {
  maxConcurrentStreams: number;
  maxHeaderListSize: number;
} {
  return {
    maxConcurrentStreams: limits.maxConcurrentStreams,
    maxHeaderListSize: limits.maxRequestHeadersKb * 1024,
  };
}

type Limited = HttpServer & {
  maxHeadersCount: number | null;
  maxHeaderSize?: number;
  keepAliveTimeout: number;
};

/**
 * Limits set on a server once it exists: the HTTP/1.1 parser's header size and keep-alive idle
 * time, also for node:http2's HTTP/1.1 side (which reads them from the server); one header more
 * than the limit kept, so that `admitRequest` sees it was passed; the idle timer of TLS
 * connections; the header timer.
 */
export function limitServer(
  server: unknown,
  limits: ListenerLimits,
  event: "connection" | "secureConnection",
) {
  const s = server as Limited;
  s.maxHeaderSize = limits.maxRequestHeadersKb * 1024;
  s.maxHeadersCount = limits.maxRequestHeaders + 1;
  // node:http2's HTTP/1.1 side reads it from the server too.
  s.keepAliveTimeout = limits.idleTimeoutMs ?? 0;
  const idle = limits.idleTimeoutMs;
  // Bun's node:http2 keeps an HTTP/1.1 connection open past both; the socket's own inactivity
  // timer closes it everywhere (an upgrade turns it off: node-upgrade.ts).
  // One listener per server and shared functions, no closure per connection (handshakes per
  // second are bound by what each connection costs: docs/runtimes.md, "Where a request's CPU goes").
  if (idle !== undefined && event === "secureConnection")
    s.on(event, (socket: Socket) => {
      socket.setTimeout(idle);
      socket.on("timeout", destroySelf);
    });
  const ms = limits.requestHeadersTimeoutMs;
  if (ms === undefined) return;
  s.on(event, (socket: Socket) => armHeadersTimer(socket, ms));
  // Upgrades and CONNECTs are requests too, which the request listener never sees.
  const arrived = (req: { socket: unknown }) => disarm(req.socket as Timed);
  s.on("upgrade", arrived);
  s.on("connect", arrived);
}

const HEADERS_TIMER = Symbol("portico.headersTimer");
type Timed = Socket & { [HEADERS_TIMER]?: ReturnType<typeof setTimeout> };

function armHeadersTimer(socket: Timed, ms: number): void {
  socket[HEADERS_TIMER] = setTimeout(destroy, ms, socket);
  socket.on("close", disarmSelf);
}

function destroy(socket: Socket): void {
  socket.destroy();
}

function destroySelf(this: Socket): void {
  this.destroy();
}

function disarmSelf(this: Timed): void {
  disarm(this);
}

function disarm(socket: Timed): void {
  const timer = socket[HEADERS_TIMER];
  if (timer === undefined) return;
  clearTimeout(timer);
  socket[HEADERS_TIMER] = undefined;
}

const REQUESTS = Symbol("portico.requests");
type Counted = { [REQUESTS]?: number };

/**
 * Called for every request before it is handled: disarms the header timer, and says whether the
 * request has more header fields than the limit (the caller answers 431). For HTTP/2 the pseudo
 * headers do not count.
 */
export function admitRequest(
  incoming: { socket: unknown; rawHeaders: string[] },
  limits: ListenerLimits,
): "ok" | "too-many-headers" {
  disarm(incoming.socket as Timed);
  const raw = incoming.rawHeaders;
  if (raw.length <= 2 * limits.maxRequestHeaders) return "ok";
  let fields = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.charCodeAt(0) !== 0x3a) fields++;
  return fields > limits.maxRequestHeaders ? "too-many-headers" : "ok";
}

/** Envoy answers too many headers with 431 and closes an HTTP/1.1 connection. */
export function refuseHeaders(outgoing: ServerResponse | Http2ServerResponse, h2: boolean): void {
  const headers: Record<string, string> = { "content-length": "0" };
  if (!h2) headers.connection = "close";
  (outgoing as ServerResponse).writeHead(431, headers).end();
}

/** maxRequestsPerConnection: the Nth request's response closes the connection (or its session). */
export function countRequest(
  incoming: { socket: unknown; stream?: { session?: Http2Session } },
  outgoing: ServerResponse | Http2ServerResponse,
  max: number,
): void {
  const session = (incoming as Http2ServerRequest).stream?.session;
  const holder = (session ?? incoming.socket) as Counted;
  const n = (holder[REQUESTS] ?? 0) + 1;
  holder[REQUESTS] = n;
  if (n < max) return;
  // GOAWAY once, when the count is reached.
  if (!session || n === max) closeAfter(incoming, outgoing);
}

/**
 * The connection ends after this response, without a race with the client's next request:
 * HTTP/1.1 says `connection: close` on it; HTTP/2 sends GOAWAY now, so streams already open
 * finish and no new one is accepted (RFC 9113 §6.8).
 */
export function closeAfter(
  incoming: { socket: unknown; stream?: { session?: Http2Session } },
  outgoing: ServerResponse | Http2ServerResponse,
): void {
  const session = (incoming as Http2ServerRequest).stream?.session;
  if (session) {
    if (!session.closed) session.close();
  } else (outgoing as ServerResponse).setHeader("connection", "close");
}
