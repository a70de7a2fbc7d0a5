// GET /upstreams: every service's pool and every subset's, with each endpoint's health (active
// check and outlier ejection), ejections, tries in flight, the circuit breaker's counts and the
// DNS status. `direct`: a one-URL service without policy, which requests reach without the pool
// (so its counts stay 0).
import type { Plan } from "../provision/plan.ts";
import type { UpstreamPools } from "../upstream/pools.ts";
import type { AdminApp } from "./app.ts";

export function mountUpstreams(app: AdminApp, plan: () => Plan, pools: UpstreamPools): void {
  app.get("/upstreams", (c) => {
    const plans = plan().pools;
    const upstreams = pools.snapshot().flatMap((snap) => {
      const p = plans.get(snap.service);
      if (!p) return []; // a pool of the previous plan, closing
      const slash = snap.service.indexOf("/");
      const { service: name, ...rest } = snap;
      return [
        {
          name,
          service: slash < 0 ? name : name.slice(0, slash),
          ...(slash < 0 ? {} : { subset: name.slice(slash + 1) }),
          direct: p.direct,
          scheme: p.scheme,
          ...rest,
          endpoints: rest.endpoints.map((e) => ({
            ...e,
            ...(e.ejectedUntil === undefined ? {} : { ejectedUntil: new Date(e.ejectedUntil).toISOString() }),
          })),
        },
      ];
    });
    return c.json({ upstreams });
  });
}
