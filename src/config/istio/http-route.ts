// One VirtualService HTTPRoute → the shared HttpRouteConfig.
// TEMPORARY: covers the fields the book's files use (match.uri, route.destination.host,
// weight, timeout) until the shared HTTPRoute builder lands; everything else is reported.
import { parseDuration } from "../duration.ts";
import type { Config, DestinationConfig, HttpRouteConfig, UriMatch } from "../model.ts";
import { unknownName } from "../suggest.ts";
import type { FieldPath } from "../yaml-locate.ts";
import { extraKeys, type IstioDoc } from "./document.ts";

export function istioHttpRoute(raw: unknown, at: FieldPath, doc: IstioDoc, config: Config): HttpRouteConfig | undefined {
  if (typeof raw !== "object" || raw === null) {
    doc.ctx.report(at, "expected an HTTP route mapping");
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  for (const k of extraKeys(r, ["name", "match", "route", "timeout"])) doc.ctx.report([...at, k], `not supported yet: ${k}`);
  const match = (Array.isArray(r.match) ? r.match : []).map((m: Record<string, unknown>) => {
    const uri = m.uri as Record<string, string> | undefined;
    const u: UriMatch | undefined = uri?.exact !== undefined ? { kind: "exact", value: uri.exact } : uri?.prefix !== undefined ? { kind: "prefix", value: uri.prefix } : uri?.regex !== undefined ? { kind: "regex", value: uri.regex } : undefined;
    return u ? { uri: u } : {};
  });
  const routes = Array.isArray(r.route) ? (r.route as Record<string, unknown>[]) : [];
  const weighted = routes.some((d) => d.weight !== undefined);
  const destinations: DestinationConfig[] = routes.map((d, k) => {
    const host = String((d.destination as { host?: unknown } | undefined)?.host ?? "");
    const service = config.services.has(host) ? host : (host.split(".")[0] ?? host);
    if (!config.services.has(service)) doc.ctx.report([...at, "route", k, "destination", "host"], `${unknownName("service", "services", host, [...config.services.keys()])}; give its address with --service ${service}=http://HOST:PORT`);
    return { service, weight: weighted ? Number(d.weight ?? 0) : 1, source: doc.ctx.source([...at, "route", k]) };
  });
  const timeoutMs = typeof r.timeout === "string" ? (parseDuration(r.timeout) ?? config.settings.timeoutMs) : config.settings.timeoutMs;
  return { match, destinations, timeoutMs, source: doc.ctx.source(at), ...(typeof r.name === "string" ? { name: r.name } : {}) };
}
