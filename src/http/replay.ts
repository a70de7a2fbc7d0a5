// Retries and mirrors send a request body more than once, so it is read whole first, up to
// Envoy's buffer limit; a bigger or unsized body streams once, without retries or mirrors.

import type { ProxyRequest } from "../listeners/_shared/types.ts";

/** Envoy's default per-connection buffer limit, which also bounds what it buffers to retry or shadow. */
export const REPLAY_LIMIT = 1024 * 1024;

/**
 * The request body as bytes when it can be sent again: a Content-Length of at most
 * REPLAY_LIMIT. Undefined when it must stream (too big, or no length given).
 */
export async function replayable(req: ProxyRequest): Promise<Uint8Array<ArrayBuffer> | null | undefined> {
  const length = req.headers.get("content-length");
  if (length === null || !/^\d+$/.test(length) || Number(length) > REPLAY_LIMIT) return undefined;
  if (length === "0") return null;
  return new Uint8Array(await req.arrayBuffer());
}

export function bodyStream(body: Uint8Array<ArrayBuffer> | null): ReadableStream<Uint8Array> | null {
  // A Blob holds its own copy, so every send reads the same bytes.
  return body === null ? null : new Blob([body]).stream();
}
