// Which parts of a service go beyond the one URL (and its ca/cert/key/serverName) that
// provisioning served before upstream pools: what a provisioning that does not handle them yet
// must refuse rather than silently ignore.

import type { ServiceConfig } from "./model.ts";

/** The pool features `service` uses, by the field that sets them; empty for a plain URL service. */
export function poolFeatures(service: ServiceConfig): string[] {
  const tls = service.tls;
  return [
    service.endpoints && "endpoints",
    service.trafficPolicy && "trafficPolicy",
    service.subsets && "subsets",
    tls?.credential !== undefined && "tls.credential",
    tls?.subjectAltNames !== undefined && "tls.subjectAltNames",
    tls?.insecureSkipVerify !== undefined && "tls.insecureSkipVerify",
  ].filter((f): f is string => typeof f === "string");
}
