// Budgets that bound hostile HTTP/2 clients on Portico's node:http2 servers, the same on Bun,
// Deno and Node (whose node:http2 are three implementations with different defaults). What
// node:http2 can bound itself is passed as server options (H2_SERVER_LIMITS); what it cannot,
// each session counts from its own events (guardSession), and a session over budget gets GOAWAY
// ENHANCE_YOUR_CALM and is destroyed, as Envoy does (source/common/http/http2/codec_impl.cc).
// Other connections are untouched.

import { constants, type Http2Session, type ServerHttp2Stream } from "node:http2";

/**
 * Options of createSecureServer. Envoy's edge defaults are the model
 * (envoy/config/core/v3/protocol.proto, Http2ProtocolOptions):
 * - maxSessionInvalidFrames: invalid frames, among them empty DATA frames without END_STREAM
 *   (CVE-2019-9518), before GOAWAY. Envoy allows 1 consecutive empty frame; node:http2 counts
 *   them in this one budget (Node's and Bun's default is 1000).
 * - maxSessionRejectedStreams: streams refused (over SETTINGS_MAX_CONCURRENT_STREAMS) before
 *   GOAWAY, Node's default, set so Bun's and Deno's agree.
 * - maxHeaderListPairs: 128 header fields per block (Node's default); the header list's size is
 *   bounded by maxHeaderSize (64 KiB), nghttp2's own limit for a header block.
 * - maxSessionMemory: MiB a session may hold in nghttp2 (Node's default, 10).
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
 * Rapid reset (CVE-2023-44487), Envoy's premature reset check (conn_manager_impl.cc,
 * isPrematureRstTooHigh): once a connection has closed PREMATURE_RESET_MIN_STREAMS streams,
 * it is closed when at least half of them were reset by the client within
 * PREMATURE_RESET_LIFETIME_MS of opening (overload.premature_reset_total_stream_count 500,
 * premature_reset_min_stream_lifetime_seconds 1).
 */
export const PREMATURE_RESET_MIN_STREAMS = 500;
export const PREMATURE_RESET_LIFETIME_MS = 1_000;

/** Counts one session's control frames and premature resets; over budget, it is closed. */
export function guardSession(session: Http2Session): void {
  let windowStart = Date.now();
  let control = 0;
  let closedStreams = 0;
  let prematureResets = 0;
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
  session.on("stream", (stream: ServerHttp2Stream) => {
    const opened = Date.now();
    stream.once("close", () => {
      closedStreams++;
      const reset = stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR;
      if (reset && !stream.headersSent && Date.now() - opened < PREMATURE_RESET_LIFETIME_MS)
        prematureResets++;
      if (closedStreams >= PREMATURE_RESET_MIN_STREAMS && prematureResets * 2 >= closedStreams) calm();
    });
  });
}
