// An inbound-traffic budget per HTTP/2 connection, for the floods no runtime shows to JavaScript:
// WINDOW_UPDATE frames on node:http2 (Bun, Deno and Node alike), and SETTINGS, PING,
// WINDOW_UPDATE and empty DATA frames on Bun.serve, which shows no frame at all. Envoy counts
// such frames against the useful ones (max_inbound_window_update_frames_per_data_frame_sent:
// 5 + 2 per DATA frame sent; max_inbound_priority_frames_per_stream: 100 per stream opened;
// envoy/config/core/v3/protocol.proto). Frames cannot be counted here, but bytes can: the
// client's encrypted bytes (the front's socket, bytesRead works on all three runtimes) against
// the bytes its useful work accounts for. Whatever is left over is debt; debt is forgiven at a
// steady rate (keep-alive PINGs, a TLS handshake, record overhead never add up), and a
// connection whose debt passes the burst is cut: GOAWAY ENHANCE_YOUR_CALM on node:http2, a
// closed socket where Bun.serve holds the session. Measured in test/e2e/hostile-h2.test.ts.
//
// Cheap per connection: no timer of its own. One shared interval samples every watched
// connection's two counters (two property reads) and stops when none is left.

import type { Socket } from "node:net";
import { clearInterval, setInterval } from "node:timers";
import type { TLSSocket } from "node:tls";

/** A socket's byte counters (node:net or node:tls; both runtimes' sockets have them). */
export interface ByteCounter {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/**
 * Credit per stream the client opens: the largest header block the servers accept (64 KiB:
 * hostile-h2.test.ts), which also covers the request body Deno's node:http2 delivers before a
 * stream is announced (up to the initial 64 KiB window) and a stream's own WINDOW_UPDATE,
 * PRIORITY and RST_STREAM frames.
 */
export const STREAM_CREDIT = 64 * 1024;
/**
 * What a request body costs on the wire beyond its own bytes: a DATA frame's header (9 bytes)
 * and a TLS record's (up to 29), credited per chunk node:http2 delivers. Uploads in 16 KiB
 * frames otherwise leave ~0.2% unaccounted, which a 64 MiB upload carried over the burst.
 */
export const CHUNK_OVERHEAD = 64;
/** The same for a body known by its length only (Bun.serve): ~6%, frames of 1 KiB or more. */
const BODY_OVERHEAD = 1 / 16;
/**
 * Share of the bytes sent that credits the client: it may acknowledge our DATA with
 * WINDOW_UPDATE frames (13 bytes; Envoy allows 2 per DATA frame). Under 1, so that frames the
 * server merely answers (a PING and its ACK are the same size) never pay for themselves.
 */
export const SENT_CREDIT = 0.25;
/** Unaccounted bytes forgiven per second: a keep-alive client stays far below. */
export const FORGIVEN_PER_SECOND = 16 * 1024;
/** Unaccounted bytes past which the connection is cut. */
export const BURST = 128 * 1024;
/**
 * Credit not yet spent that carries over to later samples (a stream's credit arrives with its
 * HEADERS, before the frames it pays for), bounded so that many past requests cannot pay for a
 * flood later.
 */
export const CARRY = 1024 * 1024;
/** How often the shared sampler reads the counters. */
export const SAMPLE_MS = 250;

export class TrafficBudget {
  /** Bytes the client's useful work accounts for: streams opened, request body bytes. */
  credit = 0;
  /** Request body bytes announced (Content-Length) and not yet arrived: they pay as they come. */
  private promised = 0;
  private seenIn = 0;
  private seenOut = 0;
  private seenCredit = 0;
  private debt = 0;
  private last = Date.now();

  /**
   * `inbound`: where the client's bytes are counted as they arrive (its own socket);
   * `outbound`: where the bytes sent to it are counted; `cut`: ends the connection.
   */
  constructor(
    private readonly inbound: ByteCounter,
    private readonly outbound: ByteCounter,
    private readonly cut: () => void,
  ) {
    this.seenIn = inbound.bytesRead;
    this.seenOut = outbound.bytesWritten;
    watch(this);
  }

  /** A stream opened, carrying `body` bytes the server will read (when known). */
  stream(body = 0): void {
    this.credit += STREAM_CREDIT;
    this.promised += body * (1 + BODY_OVERHEAD);
  }

  /** A chunk of request body delivered by node:http2. */
  chunk(bytes: number): void {
    this.credit += bytes + CHUNK_OVERHEAD;
  }

  stop(): void {
    watched.delete(this);
    if (watched.size === 0 && sampler) {
      clearInterval(sampler);
      sampler = undefined;
    }
  }

  /** Reads the counters; over budget, stops watching and cuts the connection. */
  sample(now: number): void {
    const read = this.inbound.bytesRead;
    const written = this.outbound.bytesWritten;
    // A socket gone (or a counter a runtime does not keep) reads as undefined or 0.
    if (!(read >= this.seenIn) || !(written >= this.seenOut)) return;
    let unaccounted =
      read - this.seenIn - (this.credit - this.seenCredit) - SENT_CREDIT * (written - this.seenOut);
    this.seenIn = read;
    this.seenOut = written;
    this.seenCredit = this.credit;
    if (unaccounted > 0 && this.promised > 0) {
      const paid = Math.min(unaccounted, this.promised);
      this.promised -= paid;
      unaccounted -= paid;
    }
    this.debt = Math.max(-CARRY, this.debt + unaccounted);
    // Time forgives debt, never builds credit: an idle connection cannot save up for a flood.
    const forgiven = ((now - this.last) / 1000) * FORGIVEN_PER_SECOND;
    this.last = now;
    if (this.debt > 0) this.debt = Math.max(0, this.debt - forgiven);
    if (this.debt > BURST) {
      this.stop();
      this.cut();
    }
  }
}

const watched = new Set<TrafficBudget>();
let sampler: ReturnType<typeof setInterval> | undefined;

function watch(budget: TrafficBudget): void {
  watched.add(budget);
  if (sampler) return;
  sampler = setInterval(sampleAll, SAMPLE_MS);
  sampler.unref();
}

function sampleAll(): void {
  const now = Date.now();
  for (const b of watched) {
    // A counter or a cut that throws (a runtime's socket torn down under it) must not take the
    // shared interval, or the process, with it.
    try {
      b.sample(now);
    } catch {
      b.stop();
    }
  }
}

/**
 * A budget for a connection piped to a server that shows no session (Bun.serve): the front's
 * socket counts both ways, and over budget it is closed (no GOAWAY can be written into the TLS
 * stream from outside). The server credits each request it sees (bun-sni.ts).
 */
export function pipedBudget(client: Socket): TrafficBudget {
  return new TrafficBudget(client, client, () => client.destroy());
}

const PORT = Symbol("portico.handedOverPort");
type Handed = Socket & { [PORT]?: number };

function forgetIn(byPort: Map<number, Socket>) {
  return function (this: Handed): void {
    const port = this[PORT];
    if (port !== undefined && byPort.get(port) === this) byPort.delete(port);
  };
}

/**
 * The front's sockets handed in process to a TLS server (node-http2), found again from the
 * TLS socket that wraps one: it reports the same peer. A TLS socket's own bytesRead is 0 on
 * Bun, so the client's bytes are counted on the front's socket.
 */
export class HandedOver {
  private readonly byPort = new Map<number, Socket>();
  /** One close listener for every socket handed over, not a closure each. */
  private readonly onClose = forgetIn(this.byPort);

  add(socket: Socket): void {
    const port = socket.remotePort;
    if (port === undefined) return;
    this.byPort.set(port, socket);
    (socket as Handed)[PORT] = port;
    socket.on("close", this.onClose);
  }

  find(tls: TLSSocket): Socket | undefined {
    const socket = this.byPort.get(tls.remotePort ?? 0);
    return socket && socket.remoteAddress === tls.remoteAddress ? socket : undefined;
  }
}
