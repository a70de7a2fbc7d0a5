// Bun.serve: Bun's native server, the fastest path on Bun (RUNTIMES.md: ~2.5x node:http2 on
// Bun for HTTP/1.1). It cannot refuse an unknown SNI (it falls back to the first certificate),
// verify client certificates per host, or show the peer certificate (oven-sh/bun#14097,
// #37196), so select.ts only hands it listeners that need none of that.
import { within } from "../../util/deadline.ts";
import { listenError } from "../listen-error.ts";
import type { ConnectionInfo, StartListener, TlsListenerSpec } from "../types.ts";

/** Requests in flight get this long on shutdown before connections are cut. */
const DRAIN_MS = 2_000;

interface BunServer {
  port: number;
  requestIP(req: Request): { address: string } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
}
interface BunLike {
  serve(options: Record<string, unknown>): BunServer;
}

export const startBunListener: StartListener = async (spec) => {
  const Bun = (globalThis as unknown as { Bun: BunLike }).Bun;
  const tls = spec.tls;
  let server: BunServer;
  try {
    server = Bun.serve({
      hostname: spec.address,
      port: spec.port,
      ...(tls ? { tls: bunTls(tls), http2: true } : {}),
      // Bun's maximum; Envoy's default idle timeout is longer, but 255 s is what Bun allows.
      idleTimeout: 255,
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch(req: Request, srv: BunServer) {
        const conn: ConnectionInfo = { remoteAddress: srv.requestIP(req)?.address ?? "" };
        return spec.handler(req, conn);
      },
      error(err: Error) {
        spec.onError?.(err);
        return new Response(null, { status: 500 });
      },
    });
  } catch (err) {
    throw listenError(spec, err);
  }
  return {
    name: spec.name,
    port: server.port,
    close: async () => {
      await within(server.stop(false), DRAIN_MS);
      await server.stop(true);
    },
  };
};

/** The "*" server goes first: Bun uses the first entry for any name no entry lists. */
function bunTls(tls: TlsListenerSpec) {
  const order = tls.policies.map((_, i) => i);
  if (tls.defaultPolicy !== undefined) order.sort((a, b) => (a === tls.defaultPolicy ? -1 : b === tls.defaultPolicy ? 1 : 0));
  return order.flatMap((i) => {
    const p = tls.policies[i]!;
    const names = p.hosts.filter((h) => h !== "*");
    const base = { cert: p.certPem, key: p.keyPem, lowMemoryMode: false };
    if (i === tls.defaultPolicy) return [base, ...names.map((serverName) => ({ ...base, serverName }))];
    return names.map((serverName) => ({ ...base, serverName }));
  });
}
