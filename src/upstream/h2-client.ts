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
import { Readable } from "node:stream";
import { UpstreamUnavailableError } from "../util/errors.ts";
import { attachTrailers } from "../util/trailers.ts";
import type { UpstreamClient, UpstreamTls } from "./types.ts";
import { verification } from "./verification.ts";

/** Connections per origin; Envoy opens another only when one is out of streams, too. */
const MAX_SESSIONS = 4;
/** An idle connection is closed after this long (Envoy's upstream idle_timeout default is 1 h). */
const IDLE_MS = 300_000;
const NULL_BODY = new Set([204, 205, 304]);

interface Pooled {
  session: ClientHttp2Session;
  active: number;
}

export function createH2Client(tls: UpstreamTls | undefined): UpstreamClient {
  const pools = new Map<string, Pooled[]>();

  const open = (origin: string): Pooled => {
    const session = connect(origin, {
      ...(origin.startsWith("https:")
        ? {
            ALPNProtocols: ["h2"],
            ca: tls?.ca,
            cert: tls?.cert,
            key: tls?.key,
            ...(tls?.serverName ? { servername: tls.serverName } : {}),
            ...verification(tls),
          }
        : {}),
    });
    const entry: Pooled = { session, active: 0 };
    const drop = () => {
      const list = pools.get(origin);
      const i = list?.indexOf(entry) ?? -1;
      if (i >= 0) list!.splice(i, 1);
    };
    session.on("goaway", drop);
    session.on("close", drop);
    // The streams in flight see the failure; an idle connection just leaves the pool.
    session.on("error", drop);
    session.setTimeout(IDLE_MS, () => session.close());
    let list = pools.get(origin);
    if (!list) pools.set(origin, (list = []));
    list.push(entry);
    return entry;
  };

  const sessionFor = (origin: string): Pooled => {
    const list = pools.get(origin) ?? [];
    let best: Pooled | undefined;
    for (const p of list) {
      if (p.session.closed || p.session.destroyed) continue;
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
      pooled.active++;
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
        pooled.active--;
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
