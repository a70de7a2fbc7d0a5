// Starts the admin app on its own plain-HTTP listener, through the same adapter selection as
// traffic listeners.
import type { HttpListenerSpec, RunningListener, StartListener } from "../listeners/_shared/types.ts";
import type { AdminAddress } from "../config/admin-address.ts";
import type { Plan } from "../provision/plan.ts";
import { createAdminApp } from "./app.ts";
import { mountCerts } from "./certs-routes.ts";
import { mountMetrics } from "./metrics-routes.ts";
import type { Metrics } from "../observe/metrics.ts";
import { mountUpstreams } from "./upstreams-routes.ts";
import type { UpstreamPools } from "../upstream/pools.ts";

export async function startAdmin(
  plan: () => Plan,
  where: AdminAddress,
  adapterFor: (spec: HttpListenerSpec) => { start: StartListener },
  pools?: UpstreamPools,
  metrics?: Metrics,
): Promise<RunningListener> {
  const app = createAdminApp();
  mountCerts(app, plan);
  if (pools) mountUpstreams(app, plan, pools);
  if (metrics) mountMetrics(app, metrics);
  const spec: HttpListenerSpec = {
    kind: "http",
    name: "admin",
    address: where.address,
    port: where.port,
    handler: (req) => app.fetch(req),
  };
  return adapterFor(spec).start(spec);
}
