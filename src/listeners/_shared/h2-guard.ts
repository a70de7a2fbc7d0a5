// Budgets that bound hostile HTTP/2 clients on Portico's node:http2 servers, the same on Bun,
// Deno and Node (whose node:http2 are three implementations with different defaults). What
// node:http2 can bound itself is passed as server options (H2_SERVER_LIMITS); what it cannot,
// each session counts from its own events (guardSession), and a session over budget gets GOAWAY
// ENHANCE_YOUR_CALM and is destroyed, as Envoy does (source/common/http/http2/codec_impl.cc).
// Other connections are untouched.

import { constants, type Http2Session, type ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import { TrafficBudget } from "./traffic-budget.ts";

/**
 * Options of createSecureServer: Node's defaults, set explicitly so that Bun's and Deno's
 * implementations are held to the same budgets (Envoy's Http2ProtocolOptions are the model,
 * envoy/config/core/v3/protocol.proto):
 * - maxSessionInvalidFrames: invalid frames, among them empty DATA frames without END_STREAM
 *   (CVE-2019-9518), before GOAWAY. Envoy allows 1 consecutive empty frame; node:http2 counts
 *   them in this one budget.
 * - maxSessionRejectedStreams: streams refused (over SETTINGS_MAX_CONCURRENT_STREAMS) before
 *   GOAWAY.
 * - maxHeaderListPairs: header fields per block. A header block's size (CONTINUATION floods)
 *   is bounded by each implementation itself, at 64 KiB or less (hostile-h2.test.ts).
 * - maxSessionMemory: MiB a session may hold.
 * Not maxOutstandingPings nor maxOutstandingSettings: on Deno they count the client's frames,
 * and a session was closed after 10 PINGs.
 */
export const H2_SERVER_LIMITS = {
  maxSessionInvalidFrames: 1000,
  maxSessionRejectedStreams: 100,
  maxHeaderListPairs: 128,
  maxSessionMemory: 10,
} as const;

/**
 * SETTINGS and PING frames a client may send per window: each costs an acknowledgement
 * (CVE-2019-9512, CVE-2019-9515). Envoy queues at most 1000 outbound control frames
 * (max_outbound_control_frames); a client that reads its ACKs never fills that queue, so the
 * budget here counts what it sent. A browser or gRPC keepalive sends a handful per minute.
 */
export const CONTROL_FRAMES_PER_WINDOW = 1000;
export const CONTROL_WINDOW_MS = 10_000;
/**
 * Counts one session's SETTINGS and PING frames; over budget, it is closed. With `client` (the
 * socket the client's encrypted bytes arrive on), its traffic is held to a TrafficBudget too:
 * WINDOW_UPDATE frames reach no JavaScript event on any runtime.
 *
 * Rapid reset (CVE-2023-44487) needs nothing here: Node's and Deno's node:http2 (nghttp2 and its
 * stream reset rate limit, burst 1000) and Bun's own both answer it with GOAWAY INTERNAL_ERROR;
 * measured on all three, fewer than 1000 streams of a 10,000-stream flood reached the handler
 * (test/e2e/hostile-h2.test.ts), so Envoy's premature reset check would add nothing.
 */
export function guardSession(session: Http2Session, client?: Socket): void {
  let windowStart = Date.now();
  let control = 0;
  let closing = false;
  const calm = () => {
    if (closing || session.destroyed) return;
    closing = true;
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    // Destroyed after the GOAWAY is written; a client that stops reading cannot hold it open.
    setImmediate(() => session.destroy());
  };
  const controlFrame = () => {
    const now = Date.now();
    if (now - windowStart > CONTROL_WINDOW_MS) {
      windowStart = now;
      control = 0;
    }
    if (++control > CONTROL_FRAMES_PER_WINDOW) calm();
  };
  session.on("remoteSettings", controlFrame);
  session.on("ping", controlFrame);
  if (client === undefined) return;
  // The session's socket counts the plaintext sent. On Node it is a proxy that throws once the
  // session is destroyed, which happens before "close": a destroyed session reads NaN, which the
  // budget skips.
  const socket = session.socket;
  const sent = {
    bytesRead: 0,
    get bytesWritten() {
      return session.destroyed ? Number.NaN : socket.bytesWritten;
    },
  };
  const budget = new TrafficBudget(client, sent, calm);
  session.on("stream", (stream: ServerHttp2Stream) => countBody(stream, budget));
  session.once("close", () => budget.stop());
}

const kBudget = Symbol("portico.trafficBudget");
const kPush = Symbol("portico.push");
type Counted = ServerHttp2Stream & {
  [kBudget]: TrafficBudget;
  [kPush]: (chunk: unknown, encoding?: BufferEncoding) => boolean;
};

/**
 * Credits the stream and each request body chunk as node:http2 pushes it to the stream: every
 * runtime's node:http2 delivers DATA through Readable.push (Deno's before the stream is
 * announced too, which STREAM_CREDIT covers). One function for all streams: no closure each.
 */
function countBody(stream: ServerHttp2Stream, budget: TrafficBudget): void {
  budget.stream();
  const s = stream as Counted;
  s[kBudget] = budget;
  s[kPush] = s.push;
  s.push = countedPush;
}

function countedPush(this: Counted, chunk: unknown, encoding?: BufferEncoding): boolean {
  if (chunk) this[kBudget].chunk((chunk as Uint8Array).byteLength ?? 0);
  return this[kPush](chunk, encoding);
}
