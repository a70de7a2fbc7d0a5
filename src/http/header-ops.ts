// Istio's header operations (Headers.HeaderOperations), in Envoy's order: removals first, so a
// level cannot remove what it adds itself, then set (overwrite), then add (append).
// https://istio.io/latest/docs/reference/config/networking/virtual-service/#Headers

import type { HeaderOps } from "../provision/route-plan.ts";

export function applyHeaderOps(h: Headers, ops: HeaderOps): void {
  for (const name of ops.remove) h.delete(name);
  // An empty value removes the header: Envoy drops empty values (keep_empty_value: false), and
  // Portico's settings.serverHeader reads "" the same way.
  for (const [name, value] of ops.set) {
    if (value === "") h.delete(name);
    else h.set(name, value);
  }
  for (const [name, value] of ops.add) if (value !== "") h.append(name, value);
}
