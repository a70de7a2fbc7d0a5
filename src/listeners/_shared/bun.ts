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
import { DEFAULT_TLS12_CIPHERS } from "../../tls/server-defaults.ts";
import type { HttpListenerSpec, TlsListenerSpec } from "./types.ts";
import { DEFAULT_LIMITS } from "../../config/limits.ts";
import { countingHeaders } from "./limits-bun.ts";

export type BunServer = Server<undefined>;

/**
 * Bun.serve servers an update replaced, still serving the connections they hold until they stop
 * (bun-sni's inner servers, bun-serve's old one): each HTTP/1.1 connection ends after its next
 * response (`connection: close`, which Bun.serve honours and leaves out of h2 responses), so its
 * client moves to the new server without racing the stop, which closes idle connections.
 */
export const retiring = new WeakSet<BunServer>();

/**
 * `reusePort`: bind with SO_REUSEPORT even outside workers, so that a second server can take the
 * port before this one closes (bun-serve's certificate swap, port-sharing.ts).
 */
export function serveBun(
  spec: HttpListenerSpec,
  where: { address: string; port: number; reusePort?: boolean },
  tls: TLSOptions | TLSOptions[] | undefined,
  fetch: (req: Request, server: BunServer) => Response | Promise<Response>,
): BunServer {
  const hook = spec.events?.responseEnd;
  const limits = spec.limits ?? DEFAULT_LIMITS;
  const counted = countingHeaders(fetch, limits.maxRequestHeaders);
  const served = hook
    ? async (req: Request, server: BunServer) => withResponseEnd(await counted(req, server), hook)
    : counted;
  const serve = (req: Request, server: BunServer) =>
    retiring.has(server) ? lastOnConnection(served(req, server)) : served(req, server);
  try {
    return Bun.serve({
      hostname: where.address,
      port: where.port,
      reusePort: where.reusePort === true || bunReusePort(where.port),
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

/** The response with `connection: close` (a copy when its headers cannot change). */
async function lastOnConnection(pending: Response | Promise<Response>): Promise<Response> {
  const res = await pending;
  try {
    res.headers.set("connection", "close");
    return res;
  } catch {
    const headers = new Headers(res.headers);
    headers.set("connection", "close");
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
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

/**
 * Bun.serve's `tls` entries for the policies `members`, one per server name. Bun answers a name
 * no entry lists with the **first** entry, so the policy of such names (`fallback`, the "*"
 * server) comes first, without a serverName. Bun matches names without regard to case or a
 * trailing dot, and "*.example.com" only one label deep ("a.b.example.com" gets the first
 * entry), where Istio's wildcard takes any depth (util/host-table.ts): checked on Bun 1.4.5.
 */
export function bunTls(tls: TlsListenerSpec, members: number[], fallback: number | undefined): TLSOptions[] {
  const order = fallback === undefined ? members : [fallback, ...members.filter((i) => i !== fallback)];
  return order.flatMap((i) => {
    const p = tls.policies[i]!;
    const names = p.hosts.filter((h) => h !== "*");
    const base = { cert: p.certPem, key: p.keyPem, ciphers: DEFAULT_TLS12_CIPHERS, lowMemoryMode: false };
    const named = names.map((serverName) => ({ ...base, serverName }));
    return i === fallback ? [base, ...named] : named;
  });
}
