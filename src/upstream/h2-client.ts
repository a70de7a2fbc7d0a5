// Upstream client for HTTP/2 services (h2c with prior knowledge, or h2 over TLS by ALPN), on
// node:http2, which works on Bun, Deno and Node alike (Bun's fetch speaks only HTTP/1.1). Streams
// are multiplexed over a few pooled connections per origin; a connection that closes or receives
// GOAWAY takes no new streams and a new one is opened. Response trailers (gRPC's grpc-status) are
// handed on through the side channel of util/trailers.ts.

import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { connect as netConnect, isIP, type Socket } from "node:net";
import { Readable } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { UpstreamUnavailableError } from "../util/errors.ts";
import { attachTrailers } from "../util/trailers.ts";
import { dial } from "./connection-settings.ts";
import type { UpstreamClient, UpstreamConnection, UpstreamTls } from "./types.ts";
import { verification } from "./verification.ts";

/** Connections per origin; Envoy opens another only when one is out of streams, too. */
const MAX_SESSIONS = 4;
/**
 * Without connection settings, a connection with no traffic is closed after this long (Envoy's
 * upstream idle_timeout default is 1 h; with settings, it is the pool's idleTimeout).
 */
const IDLE_MS = 300_000;
const NULL_BODY = new Set([204, 205, 304]);

interface Pooled {
  session: ClientHttp2Session;
  active: number;
  /** Streams opened on it, for maxRequestsPerConnection. */
  opened: number;
  /** Takes no new streams; closes when the last one ends. */
  draining: boolean;
  /** With connection settings: runs while no stream is open (Envoy's idle_timeout). */
  idle?: ReturnType<typeof setTimeout>;
  /** Leaves the pool (it stays open for the streams it carries). */
  drop(): void;
}

/**
 * `connection`: the pool's connection settings. With them, each connection is opened here
 * (createConnection) to set SO_KEEPALIVE and bound the connect, TLS handshake included (Bun's
 * session socket refuses setKeepAlive); it takes at most maxRequestsPerConnection streams, then
 * drains; and it closes after idleTimeout with no stream open. Without them, as before.
 */
export function createH2Client(
  tls: UpstreamTls | undefined,
  connection?: UpstreamConnection,
): UpstreamClient {
  const pools = new Map<string, Pooled[]>();
  const tlsOptions = {
    ALPNProtocols: ["h2"],
    ca: tls?.ca,
    cert: tls?.cert,
    key: tls?.key,
    ...(tls?.serverName ? { servername: tls.serverName } : {}),
    ...verification(tls),
  };

  const open = (origin: string): Pooled => {
    const secure = origin.startsWith("https:");
    let session: ClientHttp2Session | undefined;
    const createConnection =
      connection && (() => dialed(origin, secure, connection, (e) => session?.destroy(e)));
    session = connect(origin, {
      ...(secure ? tlsOptions : {}),
      ...(createConnection ? { createConnection } : {}),
    });
    const s = session;
    const entry: Pooled = {
      session: s,
      active: 0,
      opened: 0,
      draining: false,
      drop: () => {
        const list = pools.get(origin);
        const i = list?.indexOf(entry) ?? -1;
        if (i >= 0) list!.splice(i, 1);
      },
    };
    s.on("goaway", entry.drop);
    s.on("close", () => {
      entry.drop();
      clearTimeout(entry.idle);
    });
    // The streams in flight see the failure; an idle connection just leaves the pool.
    s.on("error", entry.drop);
    // Every stream in flight listens for the session's error (one each, up to the peer's
    // maxConcurrentStreams): many listeners are the design, not a leak to warn about.
    s.setMaxListeners(0);
    if (!connection) s.setTimeout(IDLE_MS, () => s.close());
    let list = pools.get(origin);
    if (!list) pools.set(origin, (list = []));
    list.push(entry);
    return entry;
  };

  /** The socket of a new connection, with the connect timer and keepalive (connection-settings.ts). */
  const dialed = (origin: string, secure: boolean, c: UpstreamConnection, fail: (e: Error) => void) => {
    const url = new URL(origin);
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port) || (secure ? 443 : 80);
    // SNI as http2.connect sends it: the override, else the host unless it is an address.
    const servername = tls?.serverName ?? (isIP(host) ? undefined : host);
    const socket: Socket = secure
      ? tlsConnect({ ...tlsOptions, host, port, ...(servername ? { servername } : {}) })
      : netConnect({ host, port });
    dial(socket, secure ? "secureConnect" : "connect", c, url.host, fail);
    return socket;
  };

  /** A stream opened on `p`: stops its idle timer, counts it towards the reuse limit. */
  const started = (p: Pooled) => {
    p.active++;
    clearTimeout(p.idle);
    const max = connection?.maxRequestsPerConnection ?? 0;
    // Envoy stops sending on a connection that has had its max_requests_per_connection and
    // drains it: no new stream, closed once the streams it carries end.
    if (max > 0 && ++p.opened >= max) {
      p.draining = true;
      p.drop();
    }
  };

  /** A stream on `p` ended: a drained connection closes, an idle one starts its timer. */
  const ended = (p: Pooled) => {
    p.active--;
    if (p.active > 0 || !connection) return;
    if (p.draining) return void p.session.close();
    p.idle = setTimeout(() => {
      p.drop();
      p.session.close();
    }, connection.idleTimeoutMs);
    p.idle.unref?.();
  };

  const sessionFor = (origin: string): Pooled => {
    const list = pools.get(origin) ?? [];
    let best: Pooled | undefined;
    for (const p of list) {
      if (p.session.closed || p.session.destroyed || p.draining) continue;
      const limit = p.session.remoteSettings?.maxConcurrentStreams ?? 100;
      if (p.active < limit) return p;
      if (!best || p.active < best.active) best = p;
    }
    if (list.length < MAX_SESSIONS || !best) return open(origin);
    return best;
  };

  return (r) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(r.url);
      const pooled = sessionFor(url.origin);
      const headers: OutgoingHttpHeaders = {
        ":method": r.method,
        ":path": url.pathname + url.search,
        ":scheme": url.protocol.slice(0, -1),
        ":authority": r.headers.get("host") ?? url.host,
      };
      for (const [name, value] of r.headers) {
        if (name === "host") continue;
        if (name === "set-cookie") headers[name] = r.headers.getSetCookie();
        else headers[name] = value;
      }
      let stream: ClientHttp2Stream;
      try {
        stream = pooled.session.request(headers, { endStream: r.body === null });
      } catch (err) {
        return reject(err);
      }
      started(pooled);
      let settled = false;
      const fail = (err: unknown) => {
        if (!settled) (settled = true), reject(err);
      };
      // A connection that fails before this stream gets a response fails the stream too.
      const onSessionError = (err: Error) => fail(err);
      pooled.session.once("error", onSessionError);
      const onAbort = () => {
        fail(r.signal.reason instanceof Error ? r.signal.reason : new Error("aborted"));
        stream.close(constants.NGHTTP2_CANCEL);
      };
      if (r.signal.aborted) onAbort();
      else r.signal.addEventListener("abort", onAbort, { once: true });
      let resolveTrailers!: (t: Headers | undefined) => void;
      const trailers = new Promise<Headers | undefined>((res) => (resolveTrailers = res));
      stream.once("trailers", (t) => resolveTrailers(toHeaders(t)));
      let closedCleanly!: (clean: boolean) => void;
      const verdict = new Promise<boolean>((res) => (closedCleanly = res));
      stream.once("close", () => {
        ended(pooled);
        pooled.session.removeListener("error", onSessionError);
        r.signal.removeEventListener("abort", onAbort);
        resolveTrailers(undefined);
        const code = stream.rstCode;
        closedCleanly(code === constants.NGHTTP2_NO_ERROR);
        fail(
          new Error(code === constants.NGHTTP2_REFUSED_STREAM ? "REFUSED_STREAM" : `stream closed (${code})`),
        );
      });
      stream.on("error", fail);
      stream.once("response", (h, flags) => {
        if (settled) return;
        settled = true;
        const status = Number(h[":status"] ?? 502);
        const ended = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        const empty = ended || r.method === "HEAD" || NULL_BODY.has(status);
        if (empty) stream.resume();
        const body = empty ? null : completeOnly(stream, verdict);
        if (body) attachTrailers(body, trailers);
        resolve(new Response(body, { status, headers: toHeaders(h) }));
      });
      if (r.body) {
        const source = Readable.fromWeb(r.body as unknown as import("node:stream/web").ReadableStream);
        source.on("error", (err) => stream.destroy(err));
        source.pipe(stream);
      }
    });
}

/**
 * The stream's body, which errors unless the stream closed without a reset code: node:http2 ends
 * the readable side of the streams of a lost connection (Bun, Deno and Node alike: RST code
 * CANCEL, no END_STREAM), and a truncated body must reset the client's stream, not end it.
 */
function completeOnly(stream: ClientHttp2Stream, clean: Promise<boolean>): ReadableStream<Uint8Array> {
  const body = Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async flush() {
        if (await clean) return;
        throw new UpstreamUnavailableError(`upstream stream closed before its end (${stream.rstCode})`);
      },
    }),
  );
}

function toHeaders(h: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.append(name, v);
    else out.append(name, String(value));
  }
  return out;
}
