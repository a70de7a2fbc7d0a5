// The bun-serve adapter: Bun's native server, the fastest path on Bun (~2.5x node:http2 on Bun
// for HTTP/1.1: docs/runtimes.md, "Figures"). It cannot refuse an unknown SNI (it falls back to
// the first certificate), verify client certificates per host, or show the peer certificate
// (oven-sh/bun#14097, #37196), so select.ts only hands it listeners that need none of that.

import { bunTls, serveBun, stopBun } from "./_shared/bun.ts";
import type { StartListener } from "./_shared/types.ts";

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
  return { name: spec.name, port: server.port ?? spec.port, close: () => stopBun([server]) };
};
