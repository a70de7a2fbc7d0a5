// The listener limits (config/limits.ts) on Bun.serve, and which it cannot enforce, for the
// startup line `listener NAME [bun-serve]: cannot enforce ...`. Bun.serve (Bun 1.4.5) takes
// idleTimeout (whole seconds, at most 255: a longer limit closes sooner, which is not reported)
// and maxRequestBodySize, and nothing else: its header size is fixed at 16 KiB (431 past it;
// Bun's --max-http-header-size), its header count at about 200 fields (431 past it; measured:
// 150 pass, 300 refused), and it has no header timeout, connection cap, request count per
// connection or SETTINGS_MAX_CONCURRENT_STREAMS option. maxRequestHeaders is checked in the
// handler, on Bun's `Headers.count` (names, not fields: repeated names count once; the fixed cap
// above bounds the fields).
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
  if (l.requestHeadersTimeoutMs !== undefined) out.push("requestHeadersTimeout");
  if (l.maxConnections !== undefined && !front) out.push("maxConnections");
  if (spec.tls) out.push("maxConcurrentStreams");
  if (l.maxRequestsPerConnection !== undefined) out.push("maxRequestsPerConnection");
  return out;
}

/** Bun.serve's fetch handler (its server argument left generic: bun.ts imports this module). */
type Fetch<S> = (req: Request, server: S) => Response | Promise<Response>;

/**
 * `fetch`, answering 431 (and closing an HTTP/1.1 connection) when a request has more header
 * names than `max`, as Envoy answers more fields than max_headers_count.
 */
export function countingHeaders<S>(fetch: Fetch<S>, max: number): Fetch<S> {
  return (req, server) =>
    (req.headers as Headers & { count: number }).count > max
      ? new Response(null, { status: 431, headers: { connection: "close", "content-length": "0" } })
      : fetch(req, server);
}
