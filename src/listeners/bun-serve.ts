// The bun-serve adapter: Bun's native server, the fastest path on Bun (~2.5x node:http2 on Bun
// for HTTP/1.1: docs/runtimes.md, "Figures"). It cannot refuse an unknown SNI (it falls back to
// the first certificate), verify client certificates per host, or show the peer certificate
// (oven-sh/bun#14097, #37196), so select.ts only hands it listeners that need none of that.

import { bunTls, serveBun, stopBun } from "./_shared/bun.ts";
import { bunServeCannot } from "./_shared/limits-bun.ts";
import type { StartListener } from "./_shared/types.ts";

/**
 * Said at startup for a TLS listener this adapter serves. Bun.serve answers every SETTINGS, PING,
 * WINDOW_UPDATE and empty DATA frame and shows none to JavaScript; with no front of Portico's
 * own, no traffic budget (traffic-budget.ts) can count them. bun-sni bounds them, at a cost for
 * h2 (h2load -c 10 -m 10, directResponse, twice each on a busy 2-core machine: 27.4k and 26.7k
 * req/s on bun-serve, 15.8k and 18.3k on bun-sni).
 */
export const UNBOUNDED_H2_FLOODS =
  "HTTP/2 SETTINGS, PING, WINDOW_UPDATE and empty DATA floods are not bounded on bun-serve " +
  "(Bun.serve shows no frame); --adapter bun-sni bounds them";

export const startBunServe: StartListener = async (spec) => {
  const tls =
    spec.tls &&
    bunTls(
      spec.tls,
      spec.tls.policies.map((_, i) => i),
      spec.tls.defaultPolicy,
    );
  const server = serveBun(spec, spec, tls, (req, srv) =>
    spec.handler(req, { remoteAddress: srv.requestIP(req)?.address ?? "" }),
  );
  return {
    name: spec.name,
    port: server.port ?? spec.port,
    unenforced: bunServeCannot(spec, false),
    close: () => stopBun([server]),
  };
};
