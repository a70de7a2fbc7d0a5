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

export type BunServer = Server<undefined>;

export function serveBun(
  spec: HttpListenerSpec,
  where: { address: string; port: number },
  tls: TLSOptions | TLSOptions[] | undefined,
  fetch: (req: Request, server: BunServer) => Response | Promise<Response>,
): BunServer {
  const hook = spec.events?.responseEnd;
  const serve = hook
    ? async (req: Request, server: BunServer) => withResponseEnd(await fetch(req, server), hook)
    : fetch;
  try {
    return Bun.serve({
      hostname: where.address,
      port: where.port,
      reusePort: bunReusePort(where.port),
      ...(tls ? { tls, http2: true } : {}),
      // Bun's maximum; Envoy's default idle timeout is longer, but 255 s is what Bun allows.
      idleTimeout: 255,
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch: serve,
      error: (err) => internalError(spec, err),
    });
  } catch (err) {
    throw listenError({ ...spec, ...where }, err);
  }
}

/** Lets requests in flight finish for DRAIN_MS, then cuts what is left. */
export async function stopBun(servers: BunServer[]): Promise<void> {
  await within(Promise.all(servers.map((s) => s.stop(false))), DRAIN_MS);
  await Promise.all(servers.map((s) => s.stop(true)));
}
