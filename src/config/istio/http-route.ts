// One VirtualService HTTPRoute → the shared HttpRouteConfig: the same schema and builder as
// routes.yaml's `http:` entries (config/http-route.ts), so both accept exactly the same fields.
// The `route` list of a tcp or tls route is the same Istio RouteDestination list, so it is built
// here too (istioDestinations).
import { parseHttpRoute, type RouteContext } from "../http-route.ts";
import type { Config, DestinationConfig, HttpRouteConfig } from "../model.ts";
import type { FieldPath } from "../yaml-locate.ts";
import type { IstioDoc } from "./document.ts";

/**
 * `portMap`: `--port FROM=TO`. A match's port is compared with the port the request came in on,
 * which is the bound one, so it is mapped like the Gateway's listeners.
 */
export function istioHttpRoute(raw: unknown, at: FieldPath, doc: IstioDoc, config: Config, portMap: Map<number, number> = new Map()): HttpRouteConfig | undefined {
  const built = parseHttpRoute(raw, at, config.services, config.settings.timeoutMs, doc.ctx, {
    unknownServiceHint: (s) => `; give its address with --service ${s}=http://HOST:PORT`,
  });
  for (const m of built?.match ?? []) if (m.port !== undefined) m.port = portMap.get(m.port) ?? m.port;
  return built;
}

/**
 * The `route` list (at `at`.route) of a tcp or tls route: host → service, weights with Istio's
 * equal split, unknown services reported with how to give one. Undefined when there were problems.
 */
export function istioDestinations(raw: unknown[], at: FieldPath, ctx: RouteContext, config: Config): DestinationConfig[] | undefined {
  const built = parseHttpRoute({ route: raw }, at, config.services, config.settings.timeoutMs, ctx, {
    unknownServiceHint: (s) => `; give its address with --service ${s}=tcp://HOST:PORT`,
  });
  return built?.destinations;
}
