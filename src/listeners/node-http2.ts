// The node-http2 adapter: node:http for plain HTTP; for TLS, a node:net front that reads each
// ClientHello and hands the connection, in process, to the node:http2 secure server of the
// policy its SNI selects (SIMPLE policies share one: http2-servers.ts). It runs unchanged on Bun,
// Deno and Node and honours every need (docs/runtimes.md, "Listener adapters"), so it is the
// fallback on every runtime.

import { ConnectionTracker, serveFront } from "./_shared/connections.ts";
import { Http2Servers } from "./_shared/http2-servers.ts";
import { plainServer } from "./_shared/node-http.ts";
import { sniFrontServer, type SniRoutes } from "./_shared/sni-front.ts";
import { HandedOver } from "./_shared/traffic-budget.ts";
import type { StartListener, TlsListenerSpec } from "./_shared/types.ts";
import type { Socket } from "node:net";

export const startNodeHttp2: StartListener = async (spec) => {
  const tracker = new ConnectionTracker("requests", spec.events);
  const tls = spec.tls;
  if (!tls) return serveFront(spec, plainServer(spec, tracker), tracker);
  // The raw socket each TLS socket was made from counts the client's bytes (traffic-budget.ts).
  const handed = new HandedOver();
  const servers = new Http2Servers(spec, tracker, undefined, (tls) => handed.find(tls));
  servers.start(tls, () => true);
  const targetsOf = (t: TlsListenerSpec) =>
    t.policies.map((_, i) => ({
      emit: (socket: Socket) => {
        handed.add(socket);
        servers.byPolicy[i]!.emit("connection", socket);
      },
    }));
  const routes: SniRoutes = { tls, targets: targetsOf(tls) };
  const running = await serveFront(spec, sniFrontServer(routes, spec.events), tracker);
  return {
    ...running,
    // Servers handed connections in process hold no socket of their own: nothing needs closing
    // (a replaced one ends each of its connections after their next response: Http2Servers).
    updateTls: async (next) => {
      const targets = targetsOf(next);
      servers.update(next).commit();
      routes.tls = next;
      routes.targets = targets;
      return true;
    },
  };
};
