// node:http and node:http2 servers that hand requests to the listener's handler (node-request.ts
// makes the request it reads, node-response.ts writes its Response). node:net + node:http2 secure
// servers are the one combination that honours per-host client auth and shows the peer
// certificate to the handler on Bun, Deno and Node alike (docs/runtimes.md, "node:tls,
// node:https and node:http2"); node-http2, node-http2-pipe and bun-sni (for its
// client-certificate policies) all build their servers here.

import { DEFAULT_TLS12_CIPHERS } from "../../tls/server-defaults.ts";
import { rotateTicketKeys, ticketKeyOptions } from "../../tls/ticket-keys.ts";
import type { Socket } from "node:net";
import {
  createServer as createHttpServer,
  IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest } from "node:http2";
import type { TLSSocket } from "node:tls";
import { type NodeIncoming, NodeRequest, UnaddressableRequest } from "./node-request.ts";
import { type NodeOutgoing, stopWriting, writeResponse } from "./node-response.ts";
import { trailersOnly, writeWithTrailers } from "./write-trailers.ts";
import { trailersOf } from "../../util/trailers.ts";
import { guardClientCert, needsGuard, refusal } from "./client-cert-guard.ts";
import type { ConnectionTracker } from "./connections.ts";
import { plainConnectionInfo, tlsConnectionInfo } from "./connection-info.ts";
import { internalError } from "./internal-error.ts";
import { handshakeFailure } from "./handshake-failure.ts";
import { guardSession, H2_SERVER_LIMITS } from "./h2-guard.ts";
import { clearTimerOnDestroy } from "./h2-session-timer.ts";
import {
  admitRequest,
  closeAfter,
  countRequest,
  h1Options,
  h2Settings,
  limitServer,
  limitsOf,
  refuseHeaders,
} from "./limits-node.ts";
import { connectListener, upgradeListener } from "./node-upgrade.ts";
import { answeredWith, countBytes, reportEnd } from "./response-end.ts";
import type { GroupOptions, SniContexts } from "./sni-contexts.ts";
import type { ConnectionInfo, HttpListenerSpec, TlsPolicy } from "./types.ts";

const HANDSHAKE_TIMEOUT_MS = 10_000;

type Incoming = { socket: Socket & { remoteAddress?: string }; url?: string };
type Outgoing = NodeOutgoing;

export function plainServer(spec: HttpListenerSpec, tracker: ConnectionTracker): HttpServer {
  const listener = bridge(spec, tracker, (incoming) => plainConnectionInfo(incoming.socket));
  const limits = limitsOf(spec);
  const server = createHttpServer({ ...h1Options(limits), requestTimeout: 60_000 }, listener);
  limitServer(server, limits, "connection");
  refuseUnparsed(server);
  server.on("connect", refuseConnect);
  server.on(
    "upgrade",
    upgradeListener(spec, tracker, "http", (req) => plainConnectionInfo(req.socket)),
  );
  return server;
}

/**
 * Secure servers an update replaced, still serving the connections they hold: each of those
 * connections ends after its next response, so its client moves to the new server (and its
 * policy) without racing a close (node-http2-pipe.ts stops a replaced loopback server once they
 * have; in process there is nothing to stop).
 */
export const retiring = new WeakSet<Http2SecureServer>();

/**
 * The node:http2 secure server (HTTP/1.1 allowed) of one TLS policy. `remoteAddress` names the
 * client when connections arrive piped over loopback (the socket's peer is then the pipe);
 * `clientSocket` finds the socket the client's own bytes arrive on (h2-guard.ts budgets them).
 */
export function secureServer(
  spec: HttpListenerSpec,
  tracker: ConnectionTracker,
  policy: TlsPolicy,
  index: number,
  remoteAddress?: (socket: TLSSocket) => string | undefined,
  /** Several SIMPLE policies share this server: each handshake's SNI picks the certificate. */
  sni?: SniContexts,
  clientSocket?: (socket: TLSSocket) => Socket | undefined,
): Http2SecureServer {
  const askCert = policy.requireClientCert || policy.requestClientCert === true;
  const serverOf = sni ? (socket: TLSSocket) => sni.serverOf(socket.servername) : { index, policy };
  // One view of the connection for requests, upgrades and extended CONNECTs alike.
  type Req = { socket: unknown };
  const info = (req: Req) => tlsConnectionInfo(req.socket as TLSSocket, serverOf, askCert, remoteAddress);
  const admit = needsGuard(policy)
    ? (req: Req) => refusal(req.socket as TLSSocket, policy) === undefined
    : undefined;
  const listener = bridge(spec, tracker, info, admit, () => retiring.has(server));
  const limits = limitsOf(spec);
  const server = createSecureServer(
    {
      ...contextOptions(spec, policy),
      // A group of one needs no choice: its policy's certificate is the server's own, and a
      // callback per handshake (a call into JavaScript, a context switch) costs each connection.
      ...(sni && sni.members.length > 1 ? { SNICallback: sni.SNICallback } : {}),
      requestCert: askCert,
      // OPTIONAL_MUTUAL: an untrusted certificate is refused by the guard, a missing one admitted.
      rejectUnauthorized: policy.requireClientCert,
      allowHTTP1: true,
      ALPNProtocols: ["h2", "http/1.1"],
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ...H2_SERVER_LIMITS,
      settings: {
        ...h2Settings(limits),
        // RFC 8441: h2 clients may open WebSockets with extended CONNECT (node-upgrade.ts).
        ...(spec.upgrades ? { enableConnectProtocol: true } : {}),
      },
    },
    listener,
  );
  guardClientCert(server, policy, spec.events);
  server.on("upgrade", upgradeListener(spec, tracker, "https", info, admit));
  // HTTP/1.1 CONNECTs (allowHTTP1) arrive here too, with the socket instead of a response.
  const h2Connect = spec.upgrades ? connectListener(spec, tracker, info, admit) : undefined;
  server.on("connect", (req: Http2ServerRequest, socketOrRes: unknown) => {
    if (req.httpVersionMajor === 1) return refuseConnect(req, socketOrRes as Socket);
    if (h2Connect) return h2Connect(req);
    req.stream.respond({ ":status": 405 }, { endStream: true });
  });
  refuseUnparsed(server);
  // Idle connections are closed after this long, as Envoy's idle_timeout does (0: never).
  server.setTimeout(limits.idleTimeoutMs ?? 0);
  limitServer(server, limits, "secureConnection");
  onTlsClientError(server, spec);
  rotateTicketKeys(server);
  server.on("sessionError", () => {});
  server.on("session", (session) => {
    clearTimerOnDestroy(session);
    guardSession(session, clientSocket?.(session.socket as TLSSocket));
  });
  return server;
}

/**
 * The credentials and handshake settings of a policy's server: at creation, and again for
 * setSecureContext, which resets every field it is not given.
 */
export function contextOptions(spec: HttpListenerSpec, policy: TlsPolicy) {
  return {
    key: policy.keyPem,
    cert: policy.certPem,
    ca: policy.caPem,
    ...groupOptions(spec, policy),
    ...ticketKeyOptions(policy),
  };
}

/** What every policy sharing a server has in common (sni-contexts.ts). */
export function groupOptions(spec: HttpListenerSpec, policy: TlsPolicy): GroupOptions {
  return {
    minVersion: policy.minVersion ?? spec.tls!.minVersion,
    ...(policy.maxVersion ? { maxVersion: policy.maxVersion } : {}),
    ciphers: policy.ciphers ?? DEFAULT_TLS12_CIPHERS,
  };
}

/**
 * HTTP/1.x requests the parser refuses (bare CR or LF, bad framing, NUL, obs-fold, ...): Envoy
 * answers one it cannot parse with 400 and one too big with 431, then closes. Without this
 * listener node:http writes its own 400 and destroys the socket at once, which over TLS lost the
 * answer to requests with a body (Deno and Node: test/e2e/hostile-http1.test.ts).
 */
function refuseUnparsed(server: HttpServer | Http2SecureServer): void {
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // Node reports the rest of an oversized head again (over TLS, a second record): the first
    // answer stands, and is not cut by destroying the socket under it.
    if (socket.writableEnded && err.code !== "ECONNRESET") return;
    if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
    const status =
      err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
}

/**
 * An HTTP/1.1 CONNECT: node:http hands it over as a tunnel request and, with no listener,
 * destroys the connection without a word. No route allows a tunnel: 405, as app.ts answers on
 * the adapters that pass CONNECT to the handler (request-refusal.ts).
 */
function refuseConnect(_req: unknown, socket: Socket): void {
  socket.end("HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
}

/** Marks a connection whose framing was refused: nothing more is served on it. */
const REFUSED = Symbol("portico.refusedFraming");

/**
 * RFC 9112 §6.1: chunked is the only transfer coding a proxy can frame a request by without
 * decoding it, and Envoy refuses any other (with 501). llhttp accepts "gzip, chunked" and would
 * hand over a body still gzipped but no longer labelled. Bun.serve refuses such a request itself
 * and h2 has no Transfer-Encoding, so the check is node:http's alone. It runs as the request
 * arrives, before llhttp reads on: a request pipelined behind the refused one (a smuggling
 * attempt, for a parser that framed the first one differently) is never served, the connection
 * closes after the 400.
 */
function refusedFraming(incoming: IncomingMessage, outgoing: ServerResponse): boolean {
  const socket = incoming.socket as Socket & { [REFUSED]?: true };
  if (socket[REFUSED]) return true;
  const te = incoming.headers["transfer-encoding"];
  if (te === undefined || te.toLowerCase() === "chunked") return false;
  socket[REFUSED] = true;
  outgoing.writeHead(400, { connection: "close", "content-length": "0" }).end();
  return true;
}

/**
 * Failed handshakes (no client certificate, untrusted CA, garbage) are the client's problem:
 * the connection is closed, the reason counted, and nothing else is affected.
 */
function onTlsClientError(server: Http2SecureServer, spec: HttpListenerSpec): void {
  const events = spec.events;
  server.on("tlsClientError", (err: Error, socket: TLSSocket) => {
    socket.destroy();
    events?.handshake?.(handshakeFailure(err, socket));
  });
}

function bridge(
  spec: HttpListenerSpec,
  tracker: ConnectionTracker,
  connInfo: (incoming: Incoming) => ConnectionInfo,
  /** False: the connection must not be served (client-cert-guard.ts); it is destroyed. */
  admit?: (incoming: Incoming) => boolean,
  /** True once an update replaced the server (`retiring`): each connection ends after its next response. */
  retiring?: () => boolean,
) {
  const responseEnd = spec.events?.responseEnd;
  const limits = limitsOf(spec);
  const perConnection = limits.maxRequestsPerConnection;
  return (incoming: NodeIncoming, outgoing: Outgoing) => {
    if (admit && !admit(incoming as unknown as Incoming)) return void incoming.socket.destroy();
    const h1 = incoming instanceof IncomingMessage;
    if (h1 && refusedFraming(incoming, outgoing as ServerResponse)) return;
    if (admitRequest(incoming, limits) !== "ok") return refuseHeaders(outgoing, !h1);
    if (perConnection !== undefined) countRequest(incoming, outgoing, perConnection);
    if (retiring?.()) closeAfter(incoming, outgoing);
    // IncomingMessage.url (HTTP/1.1) and Http2ServerRequest.url (:path) are the raw target. A
    // backslash is read as "/" in the URL (Envoy reads it so with BASE normalisation, or forwards
    // it with NONE): the handler gets the raw target as well.
    const target = incoming.url;
    if (target?.includes("\\")) incoming.url = target.replaceAll("\\", "/");
    tracker.begin();
    if (responseEnd) countBytes(outgoing);
    // Bun's node:http2 does not always emit "close" on a finished response; either event ends it.
    // Listeners shared by every response of the listener (the emitter is `this`), not closures.
    outgoing.on("finish", onFinish);
    outgoing.on("close", onClose);
    void serve(incoming, outgoing, !h1, target);
  };

  async function serve(incoming: NodeIncoming, outgoing: Outgoing, h2: boolean, target: string | undefined) {
    try {
      await answer(incoming, outgoing, h2, target);
    } catch (err) {
      failed(outgoing, err);
    }
  }

  async function answer(incoming: NodeIncoming, outgoing: Outgoing, h2: boolean, target: string | undefined) {
    let req: NodeRequest;
    try {
      req = new NodeRequest(incoming, h2);
    } catch (err) {
      if (!(err instanceof UnaddressableRequest)) throw err;
      // A target and Host (:authority) that make no URL (a Host WHATWG URL reads differently, a
      // target that is not origin-form or http(s) absolute-form, "*"): the client's mistake, a
      // 400 as app.ts answers.
      return void (outgoing as ServerResponse).writeHead(400, { "content-length": "0" }).end();
    }
    (outgoing as Served)[REQUEST] = req;
    let res: Response;
    try {
      res = await spec.handler(req, connInfo(incoming as unknown as Incoming), target);
    } catch (err) {
      return writeResponse(internalError(spec, err), outgoing);
    }
    if (responseEnd) answeredWith(outgoing, res, responseEnd);
    // A Response cannot carry trailers: a response whose upstream may send trailers is written
    // by write-trailers.ts instead.
    const trailers = trailersOf(res);
    if (trailers) await writeWithTrailers(res, trailers, outgoing);
    else if (!trailersOnly(res, outgoing)) await writeResponse(res, outgoing);
    // A trailers-only answer is one HEADERS frame, already sent: the response may never "finish".
    else if (responseEnd) reportEnd(outgoing, false, responseEnd);
  }

  /** Writing the response threw (a header node refuses): a 500 if nothing was sent, else a cut. */
  function failed(out: Outgoing, err: unknown): void {
    spec.onError?.(err as Error);
    if (out.headersSent || out.destroyed) return void out.destroy();
    (out as ServerResponse).writeHead(500, { "content-length": "0" }).end();
  }

  function ended(out: Ending, closed: boolean): void {
    if (out[ENDED]) return;
    out[ENDED] = true;
    tracker.end();
    if (responseEnd) reportEnd(out as unknown as ServerResponse, closed, responseEnd);
  }
  function onFinish(this: Ending & Served): void {
    ended(this, false);
    // A body the response did not wait for is not left half-read (node-request.ts).
    const req = this[REQUEST];
    if (req?.bodyPending) req.discardBody();
  }
  function onClose(this: Ending & Served & Outgoing): void {
    // The client went away before the response ended: the handler's signal and body stop. Bun's
    // node:http2 says writableFinished of a response whose stream the client reset; the request
    // says aborted (as @hono/node-server checked).
    const req = this[REQUEST];
    if (req !== undefined && (!this.writableFinished || (req.incoming as { aborted?: boolean }).aborted)) {
      req.abort();
      stopWriting(this);
    }
    ended(this, true);
  }
}

/** Set once a response's end (finish or close, whichever came first) has been counted. */
const ENDED = Symbol("portico.ended");
type Ending = { [ENDED]?: true };

/** The request a response answers. */
const REQUEST = Symbol("portico.request");
type Served = { [REQUEST]?: NodeRequest };
