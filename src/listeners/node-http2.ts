// The node-http2 adapter: node:http for plain HTTP; for TLS, a node:net front that reads each
// ClientHello and hands the connection, in process, to the node:http2 secure server of the
// policy its SNI selects. It runs unchanged on Bun, Deno and Node and honours every need
// (docs/runtimes.md, "Listener adapters"), so it is the fallback on every runtime.

import { ConnectionTracker, serveFront } from "./_shared/connections.ts";
import { http2Target, plainServer } from "./_shared/node-http.ts";
import { sniFrontServer } from "./_shared/sni-front.ts";
import type { StartListener } from "./_shared/types.ts";

export const startNodeHttp2: StartListener = async (spec) => {
  const tracker = new ConnectionTracker("requests", spec.events);
  const tls = spec.tls;
  const front = tls
    ? sniFrontServer(
        tls,
        tls.policies.map((policy, index) => http2Target(spec, tracker, policy, index)),
        spec.events,
      )
    : plainServer(spec, tracker);
  return serveFront(spec, front, tracker);
};
