// Writes the handler's Response on a node:http ServerResponse or node:http2 compatibility
// response: the status and headers as they are (every set-cookie kept, no content-length or
// content-type invented), then the body with backpressure. The client going away cancels the
// body (which cancels the upstream read); a body that fails midway destroys the response, so the
// client sees a reset or a truncation, never a clean end.

import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";

export type NodeOutgoing = ServerResponse | Http2ServerResponse;

const READER = Symbol("portico.bodyReader");
const DRAINED = Symbol("portico.drained");

type Writing = NodeOutgoing & {
  [READER]?: ReadableStreamDefaultReader<Uint8Array>;
  [DRAINED]?: () => void;
};

/** Writes `res` on `out`; resolves once the body has been handed to `out` (or given up). */
export async function writeResponse(res: Response, out: NodeOutgoing): Promise<void> {
  const body = res.body;
  const o = out as Writing;
  if (o.destroyed) {
    body?.cancel().catch(() => {});
    return;
  }
  (out as ServerResponse).writeHead(res.status, plainHeaders(res.headers));
  if (body === null) return void out.end();
  const reader = body.getReader();
  o[READER] = reader;
  try {
    let next = reader.read();
    let result = await nowOrLater(next);
    if (result === undefined) {
      // The body is slow to start (a stream of events): the client gets the head at once.
      if ("flushHeaders" in out) out.flushHeaders();
      result = await next;
    }
    while (!result.done) {
      if (o[READER] === undefined) return;
      const chunk = result.value;
      next = reader.read();
      result = await nowOrLater(next);
      // The last chunk goes with the end: one write (one TLS record, one DATA frame with END_STREAM).
      if (result?.done) {
        if (o[READER] !== undefined) out.end(chunk);
        return;
      }
      if (!(out as ServerResponse).write(chunk) && o[READER] !== undefined) {
        await new Promise<void>((resolve) => {
          o[DRAINED] = resolve;
          out.once("drain", drained);
        });
      }
      if (result === undefined) result = await next;
    }
    if (o[READER] !== undefined) out.end();
  } catch (err) {
    // The body failed midway (an upstream reset): the client's response is cut, not ended.
    if (o[READER] !== undefined) out.destroy(err instanceof Error ? err : new Error(String(err)));
  } finally {
    o[READER] = undefined;
  }
}

/**
 * The client went away before `out` finished: the body being written is cancelled (which
 * cancels the upstream read), and a write waiting for "drain" gives up.
 */
export function stopWriting(out: NodeOutgoing): void {
  const o = out as Writing;
  const reader = o[READER];
  if (reader === undefined) return;
  o[READER] = undefined;
  reader.cancel().catch(() => {});
  drained.call(o);
}

function drained(this: Writing): void {
  const resolve = this[DRAINED];
  if (resolve === undefined) return;
  this[DRAINED] = undefined;
  this.off("drain", drained);
  resolve();
}

/** The read's result if it is already there (a few microtasks), else undefined. */
function nowOrLater<T>(read: Promise<T>): Promise<T | undefined> {
  return Promise.race([read, Promise.resolve().then(later)]);
}

function later(): Promise<undefined> {
  return Promise.resolve(undefined);
}

/** Headers for writeHead: set-cookie as a list, as it must never be joined (RFC 6265 §3). */
export function plainHeaders(h: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of h) if (name !== "set-cookie") out[name] = value;
  const cookies = h.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  return out;
}
