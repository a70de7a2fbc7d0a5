// One VirtualService HTTPRoute → the shared HttpRouteConfig: the same schema and builder as
// routes.yaml's `http:` entries (config/http-route.ts), so both accept exactly the same fields.
import { parseHttpRoute } from "../http-route.ts";
import type { Config, HttpRouteConfig } from "../model.ts";
import type { FieldPath } from "../yaml-locate.ts";
import type { IstioDoc } from "./document.ts";

export function istioHttpRoute(raw: unknown, at: FieldPath, doc: IstioDoc, config: Config): HttpRouteConfig | undefined {
  return parseHttpRoute(raw, at, config.services, config.settings.timeoutMs, doc.ctx, {
    unknownServiceHint: (s) => `; give its address with --service ${s}=http://HOST:PORT`,
  });
}
