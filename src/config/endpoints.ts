// What routes.yaml endpoints and Istio ServiceEntry / WorkloadEntry endpoints share: the
// address forms, labels, and the rules between addresses and resolution. Each way in has its
// own endpoint shape (routes.yaml `port`, Istio's `ports` map by port name).
// Reference: https://istio.io/latest/docs/reference/config/networking/service-entry/#ServiceEntry-Resolution

import { isIP } from "node:net";
import type { EndpointConfig, Resolution } from "./pool-model.ts";
import type { Reporter } from "./report.ts";
import * as v from "valibot";
import { checked, describeValue, hostProblem, namedMap, oneOf, text } from "./schema-kit.ts";
import type { FieldPath } from "./yaml-locate.ts";

const ADDRESS = "an IP address or a host name";

/** An endpoint address: an IP address or a host name (no wildcard, no port, no scheme). */
export const endpointAddress = checked(ADDRESS, (value) => {
  if (value.startsWith("unix://"))
    return "Unix domain socket endpoints are not supported by Portico; give an IP address or a host name";
  if (isIP(value) !== 0) return undefined;
  if (value.includes("*")) return `expected ${ADDRESS}, got ${describeValue(value)}: no wildcards`;
  return hostProblem(value);
});

// Istio's NONE means "the connection's original destination", which only a sidecar that
// intercepted the connection knows; a gateway never does.
export const NONE_REFUSED =
  "resolution NONE is not supported by Portico: it sends each connection to the address the client " +
  "originally connected to, which only a sidecar that intercepted the connection knows; use STATIC with " +
  "IP addresses, or DNS";

const RESOLUTIONS = ["STATIC", "DNS", "DNS_ROUND_ROBIN", "NONE"] as const;
/** Istio's Resolution names; NONE is refused with the reason. */
export const resolution = v.pipe(
  oneOf(RESOLUTIONS),
  v.check((r) => r !== "NONE", NONE_REFUSED),
);

/** Kubernetes-style labels: names to values. */
export const labels = namedMap("a mapping of label names to values", text("a label value"));

/** Istio's limit on endpoint weights (uint32), as Envoy's load_balancing_weight. */
export const MAX_WEIGHT = 2 ** 32 - 1;

/**
 * The rules between addresses and resolution, each reported at its endpoint's `address`:
 * STATIC needs IP addresses (Istio refuses a name there); DNS with an IP has nothing to
 * resolve (Istio accepts it; a warning).
 */
export function checkResolution(
  endpoints: EndpointConfig[],
  resolution: Resolution,
  addressAt: (index: number) => FieldPath,
  ctx: Reporter,
): void {
  endpoints.forEach((e, i) => {
    const ip = isIP(e.address) !== 0;
    if (resolution === "STATIC" && !ip)
      ctx.report(
        addressAt(i),
        `"${e.address}" is a host name; resolution STATIC needs IP addresses ` +
          "(use resolution DNS to resolve names)",
      );
    else if (resolution !== "STATIC" && ip)
      ctx.report(
        addressAt(i),
        `"${e.address}" is an IP address: resolution ${resolution} has nothing to resolve; use STATIC`,
        "warning",
      );
  });
}

/** Whether an endpoint's labels include every one of `selector` (Istio's label selection). */
export function selects(selector: Record<string, string>, endpointLabels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, value]) => endpointLabels[k] === value);
}
