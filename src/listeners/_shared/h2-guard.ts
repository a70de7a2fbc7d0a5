// Budgets that bound hostile HTTP/2 clients on Portico's node:http2 servers, the same on Bun,
// Deno and Node (whose node:http2 are three implementations with different defaults). What
// node:http2 can bound itself is passed as server options (H2_SERVER_LIMITS); what it cannot,
// each session counts from its own events (guardSession), and a session over budget gets GOAWAY
// ENHANCE_YOUR_CALM and is destroyed, as Envoy does (source/common/http/http2/codec_impl.cc).
// Other connections are untouched.

import { constants, type Http2Session } from "node:http2";

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
 * Counts one session's SETTINGS and PING frames; over budget, it is closed.
 *
 * Rapid reset (CVE-2023-44487) needs nothing here: Node's and Deno's node:http2 (nghttp2 and its
 * stream reset rate limit, burst 1000) and Bun's own both answer it with GOAWAY INTERNAL_ERROR;
 * measured on all three, fewer than 1000 streams of a 10,000-stream flood reached the handler
 * (test/e2e/hostile-h2.test.ts), so Envoy's premature reset check would add nothing.
 */
export function guardSession(session: Http2Session): void {
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
}
