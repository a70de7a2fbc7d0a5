// Checks that need every source read: a route's `destination.subset` names a subset of its
// service (defined by a DestinationRule or routes.yaml `subsets`), and a subset's labels select
// at least one endpoint (a warning: Istio accepts it, and the subset then has no endpoint).

import type { ConfigIssue } from "../util/errors.ts";
import { selects } from "./endpoints.ts";
import type { Config, ServiceConfig, Source, SubsetRef } from "./model.ts";
import { didYouMean } from "./suggest.ts";

/** Every problem found, errors and warnings, each at its own place. */
export function checkSubsets(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (source: Source, message: string, severity: "error" | "warning" = "error") =>
    issues.push({ ...source, message, severity });
  const refs: { service: string; subset: SubsetRef }[] = [];
  for (const entry of config.routes) {
    // In the order they were written: a route's destinations, then its mirrors.
    const routes = [
      ...entry.http.map((r) => [...r.destinations, ...(r.mirrors ?? [])]),
      ...[...(entry.tcp ?? []), ...(entry.tls ?? [])].map((r) => r.destinations),
    ];
    for (const d of routes.flat()) if (d.subset) refs.push({ service: d.service, subset: d.subset });
  }
  for (const { service: name, subset } of refs) {
    const service = config.services.get(name);
    if (!service) continue; // the unknown service was reported where it was named
    const known = (service.subsets ?? []).map((s) => s.name);
    if (known.includes(subset.name)) continue;
    at(subset.source, unknownSubset(subset.name, service, known));
  }
  for (const service of config.services.values()) {
    for (const s of service.subsets ?? []) {
      const endpoints = service.endpoints ?? [{ labels: {} }];
      if (endpoints.some((e) => selects(s.labels, e.labels))) continue;
      const shown = Object.entries(s.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ");
      at(
        s.source,
        `subset "${s.name}" of service "${service.name}": labels ${shown} select no endpoint; ` +
          "requests routed to it will fail",
        "warning",
      );
    }
  }
  return issues;
}

function unknownSubset(name: string, service: ServiceConfig, known: string[]): string {
  const head = `unknown subset "${name}" of service "${service.name}"`;
  if (known.length === 0)
    return (
      `${head}: it has no subsets; define them in a DestinationRule for host ${service.name} ` +
      `(or under services.${service.name}.subsets in routes.yaml)`
    );
  return head + (didYouMean(name, known) || `; known subsets: ${known.join(", ")}`);
}
