// ListenerEvents.responseEnd for the node:http / node:http2 compatibility responses: the body
// bytes written, counted by wrapping the response's write and end (only when an observer wants
// them: with no responseEnd hook nothing is wrapped), and whether the client left first (the
// response closed before it finished).

import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { ResponseEnd } from "./types.ts";

type Outgoing = ServerResponse | Http2ServerResponse;

const kCount = Symbol("portico.bytesSent");
const kResponse = Symbol("portico.response");

interface Counted {
  [kCount]: Count;
  [kResponse]?: Response;
  write: (...args: unknown[]) => boolean;
  end: (...args: unknown[]) => unknown;
}

interface Count {
  bytes: number;
  inEnd: boolean;
  /** The response closed before the handler answered (the client left). */
  closedEarly: boolean;
  /** The response's own write and end, which the counting ones call. */
  write: (...args: unknown[]) => boolean;
  end: (...args: unknown[]) => unknown;
}

function size(chunk: unknown): number {
  if (typeof chunk === "string") return Buffer.byteLength(chunk);
  return (chunk as Uint8Array | null | undefined)?.byteLength ?? 0;
}

/**
 * Counts what is written to `out` from now on: write and end are replaced by two functions
 * shared by every response (the count lives on the response), not by closures per response.
 */
export function countBytes(out: Outgoing): void {
  const o = out as unknown as Counted;
  o[kCount] = { bytes: 0, inEnd: false, closedEarly: false, write: o.write, end: o.end };
  o.write = countedWrite;
  o.end = countedEnd;
}

// Http2ServerResponse.end(chunk) writes the chunk with this.write: counted once, in end.
function countedWrite(this: Counted, ...args: unknown[]): boolean {
  const count = this[kCount];
  if (!count.inEnd) count.bytes += size(args[0]);
  return count.write.apply(this, args);
}

function countedEnd(this: Counted, ...args: unknown[]): unknown {
  const count = this[kCount];
  if (typeof args[0] !== "function") count.bytes += size(args[0]);
  count.inEnd = true;
  try {
    return count.end.apply(this, args);
  } finally {
    count.inEnd = false;
  }
}

/**
 * The handler's Response for `out`, the one the responseEnd event names. When the client left
 * before the handler answered, the end is reported now: nothing of it was sent.
 */
export function answeredWith(
  out: Outgoing,
  res: Response,
  hook: (r: Response, e: ResponseEnd) => void,
): void {
  const o = out as unknown as Counted;
  if (o[kCount]?.closedEarly) hook(res, { bytesSent: 0, clientClosed: true, unanswered: true });
  else o[kResponse] = res;
}

/** Reports the end of `out`'s response (nothing when the handler returned none). */
export function reportEnd(out: Outgoing, closedFirst: boolean, hook: (r: Response, e: ResponseEnd) => void) {
  const o = out as unknown as Counted;
  const res = o[kResponse];
  if (res === undefined) {
    if (o[kCount]) o[kCount].closedEarly = true;
    return;
  }
  o[kResponse] = undefined;
  hook(res, { bytesSent: o[kCount]?.bytes ?? 0, clientClosed: closedFirst && !out.writableFinished });
}
