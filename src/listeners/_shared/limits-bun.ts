// Which listener limits (config/limits.ts) Bun.serve cannot enforce, for the startup line
// `listener NAME [bun-serve]: cannot enforce ...`. Bun.serve (Bun 1.4.5) takes idleTimeout
// (whole seconds, at most 255: a longer limit closes sooner, which is not reported) and
// maxRequestBodySize, and nothing else: its header size is fixed at 16 KiB (431 past it; Bun's
// --max-http-header-size), its header count at about 200 (431 past it; measured: 150 pass, 300
// refused), and it has no header timeout, connection cap, request count per connection or
// SETTINGS_MAX_CONCURRENT_STREAMS option.
import { DEFAULT_LIMITS } from "../../config/limits.ts";
import type { HttpListenerSpec } from "./types.ts";

/** Bun.serve's own header size limit (KiB). */
export const BUN_HEADER_KB = 16;

/**
 * The limits a Bun.serve server of this listener leaves unenforced. `front`: the connections
 * reach it through Portico's SNI front, which counts them (maxConnections).
 */
export function bunServeCannot(spec: HttpListenerSpec, front: boolean): string[] {
  const l = spec.limits ?? DEFAULT_LIMITS;
  const out: string[] = [];
  if (l.maxRequestHeadersKb < BUN_HEADER_KB) out.push("maxRequestHeadersKb");
  out.push("maxRequestHeaders");
  if (l.requestHeadersTimeoutMs !== undefined) out.push("requestHeadersTimeout");
  if (l.maxConnections !== undefined && !front) out.push("maxConnections");
  if (spec.tls) out.push("maxConcurrentStreams");
  if (l.maxRequestsPerConnection !== undefined) out.push("maxRequestsPerConnection");
  return out;
}
