// Starts the admin app on its own plain-HTTP listener, through the same adapter selection as
// traffic listeners.
import type {
  HttpListenerSpec,
  ProxyRequest,
  RunningListener,
  StartListener,
} from "../listeners/_shared/types.ts";
import { webRequest } from "../listeners/_shared/web-request.ts";
import type { AdminAddress } from "../config/admin-address.ts";
import type { Plan } from "../provision/plan.ts";
import { createAdminApp, type AdminApp } from "./app.ts";
import { mountCerts, type AcmeView } from "./certs-routes.ts";
import { mountMetrics } from "./metrics-routes.ts";
import type { Metrics } from "../observe/metrics.ts";
import { mountUpstreams } from "./upstreams-routes.ts";
import type { UpstreamPools } from "../upstream/pools.ts";
import type { Config } from "../config/model.ts";
import { mountConfig } from "./config-routes.ts";
import { mountReload, type ReloadOutcome } from "./reload-route.ts";
import { requireToken } from "./token.ts";

/** What the admin API shows and does beyond the plan: the configuration, and reloading it. */
export interface AdminControl {
  config: () => Config;
  reload: () => Promise<ReloadOutcome>;
  acme?: AcmeView;
}

export async function startAdmin(
  plan: () => Plan,
  where: AdminAddress,
  adapterFor: (spec: HttpListenerSpec) => { start: StartListener },
  pools?: UpstreamPools,
  control?: AdminControl,
  metrics?: Metrics,
  token?: string,
): Promise<RunningListener> {
  const app = createAdminApp();
  mountCerts(app, plan, control?.acme);
  if (pools) mountUpstreams(app, plan, pools);
  if (metrics) mountMetrics(app, metrics);
  if (control) {
    mountConfig(app, control.config);
    mountReload(app, control.reload);
  }
  return serveAdmin(app, where, adapterFor, token);
}

/** Serves `app` as the admin listener at `where`, behind `token` when there is one (token.ts). */
export function serveAdmin(
  app: AdminApp,
  where: AdminAddress,
  adapterFor: (spec: HttpListenerSpec) => { start: StartListener },
  token?: string,
): Promise<RunningListener> {
  const serve = (req: ProxyRequest) => app.fetch(webRequest(req));
  const spec: HttpListenerSpec = {
    kind: "http",
    name: "admin",
    address: where.address,
    port: where.port,
    handler: token === undefined ? serve : requireToken(serve, token),
  };
  return adapterFor(spec).start(spec);
}
