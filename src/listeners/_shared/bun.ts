// Bun.serve as both Bun adapters start and stop it (bun-serve on the listener's own port,
// bun-sni on loopback behind its SNI front). Types are @types/bun's; the `Bun` global is only
// touched when a Bun adapter starts, so importing this module is harmless on Deno and Node.

import type { Server, TLSOptions } from "bun";
import { within } from "../../util/deadline.ts";
import { withResponseEnd } from "./bun-response-end.ts";
import { DRAIN_MS } from "./connections.ts";
import { internalError } from "./internal-error.ts";
import { listenError } from "./listen-error.ts";
import { bunReusePort } from "./port-sharing.ts";
import type { HttpListenerSpec } from "./types.ts";
import { DEFAULT_LIMITS } from "../../config/limits.ts";
import { countingHeaders } from "./limits-bun.ts";

export type BunServer = Server<undefined>;

export function serveBun(
  spec: HttpListenerSpec,
  where: { address: string; port: number },
  tls: TLSOptions | TLSOptions[] | undefined,
  fetch: (req: Request, server: BunServer) => Response | Promise<Response>,
): BunServer {
  const hook = spec.events?.responseEnd;
  const limits = spec.limits ?? DEFAULT_LIMITS;
  const counted = countingHeaders(fetch, limits.maxRequestHeaders);
  const serve = hook
    ? async (req: Request, server: BunServer) => withResponseEnd(await counted(req, server), hook)
    : counted;
  try {
    return Bun.serve({
      hostname: where.address,
      port: where.port,
      reusePort: bunReusePort(where.port),
      ...(tls ? { tls, http2: true } : {}),
      idleTimeout: bunIdleTimeout(limits.idleTimeoutMs),
      // The largest body any route admits; each route's own limit is app.ts's (body-limit.ts).
      maxRequestBodySize: limits.maxRequestBodyBytes ?? Number.MAX_SAFE_INTEGER,
      fetch: serve,
      error: (err) => internalError(spec, err),
    });
  } catch (err) {
    throw listenError({ ...spec, ...where }, err);
  }
}

/**
 * Bun.serve's idleTimeout is whole seconds, at most 255: a longer limit closes idle connections
 * at 255 s, sooner than asked (0: never).
 */
export const BUN_MAX_IDLE_S = 255;
function bunIdleTimeout(ms: number | undefined): number {
  return ms === undefined ? 0 : Math.min(BUN_MAX_IDLE_S, Math.max(1, Math.ceil(ms / 1000)));
}

/** Lets requests in flight finish for DRAIN_MS, then cuts what is left. */
export async function stopBun(servers: BunServer[]): Promise<void> {
  await within(Promise.all(servers.map((s) => s.stop(false))), DRAIN_MS);
  await Promise.all(servers.map((s) => s.stop(true)));
}
