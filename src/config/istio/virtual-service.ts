// Istio VirtualService → routes bound to Gateways. A VirtualService attaches to a Gateway only
// through `gateways:` (Istio: omitted means "mesh", i.e. sidecars, not a gateway) and only for
// the hosts both list; the listener's host filter and the route table together give exactly
// that intersection at request time.
// Field reference: https://istio.io/latest/docs/reference/config/networking/virtual-service/
import type { HttpRouteConfig, TcpRouteConfig, TlsRouteConfig, VirtualHostConfig } from "../model.ts";
import type { FieldPath } from "../yaml-locate.ts";
import { extraKeys, type IstioDoc } from "./document.ts";

export interface VirtualServiceOptions {
  /** Gateway name → names of the listeners it produced. */
  gateways: Map<string, string[]>;
  /** Builds one HTTP route (shared with routes.yaml, so both accept the same fields). */
  httpRoute: (raw: unknown, at: FieldPath, doc: IstioDoc) => HttpRouteConfig | undefined;
  /** Builds `spec.tcp` and `spec.tls` (l4-route.ts, on routes.yaml's builders). */
  tcpRoutes: (raw: unknown, doc: IstioDoc) => TcpRouteConfig[] | undefined;
  tlsRoutes: (raw: unknown, hosts: string[], doc: IstioDoc) => TlsRouteConfig[] | undefined;
  notice: (message: string) => void;
}

const SPEC_FIELDS = ["hosts", "gateways", "http", "tcp", "tls", "exportTo"];

export function translateVirtualService(doc: IstioDoc, opts: VirtualServiceOptions): VirtualHostConfig | undefined {
  const spec = (doc.raw.spec ?? {}) as Record<string, unknown>;
  for (const k of extraKeys(spec, SPEC_FIELDS)) doc.ctx.report(["spec", k], `unknown field "${k}" in a VirtualService spec`);
  // exportTo limits visibility across namespaces; there is one namespace here.

  const hosts = stringList(spec.hosts);
  if (!hosts || hosts.length === 0) {
    doc.ctx.report(["spec", "hosts"], "expected a non-empty list of host names");
    return undefined;
  }
  const gatewayNames = spec.gateways === undefined ? ["mesh"] : stringList(spec.gateways);
  if (!gatewayNames) {
    doc.ctx.report(["spec", "gateways"], "expected a list of Gateway names");
    return undefined;
  }
  const listeners: string[] = [];
  gatewayNames.forEach((g, i) => {
    const name = g.includes("/") ? g.slice(g.indexOf("/") + 1) : g;
    if (name === "mesh") return;
    const bound = opts.gateways.get(name);
    if (!bound) doc.ctx.report(["spec", "gateways", i], `no Gateway named "${name}" was loaded (known: ${[...opts.gateways.keys()].join(", ") || "none"})`);
    else listeners.push(...bound);
  });
  if (listeners.length === 0) {
    if (gatewayNames.every((g) => g === "mesh" || g.endsWith("/mesh"))) opts.notice(`${doc.ctx.file}: VirtualService ${doc.name} is bound to no Gateway (gateways: ${gatewayNames.join(", ")}); ignored`);
    return undefined;
  }

  const http: HttpRouteConfig[] = [];
  const rawHttp = spec.http === undefined ? [] : spec.http;
  if (!Array.isArray(rawHttp)) doc.ctx.report(["spec", "http"], "expected a list of HTTP routes");
  else rawHttp.forEach((r, j) => {
    const built = opts.httpRoute(r, ["spec", "http", j], doc);
    if (built) http.push(built);
  });
  const lower = hosts.map((h) => h.toLowerCase());
  const built: VirtualHostConfig = { hosts: lower, listeners, http, source: doc.ctx.source(["spec"]) };
  // A tls route's listeners are the Gateways' TLS (PASSTHROUGH) ones, a tcp route's their TCP
  // ones: provisioning binds each route to the listeners of its kind among `listeners`.
  if (spec.tcp !== undefined) {
    const tcp = opts.tcpRoutes(spec.tcp, doc);
    if (tcp) built.tcp = tcp;
  }
  if (spec.tls !== undefined) {
    const tls = opts.tlsRoutes(spec.tls, lower, doc);
    if (tls) built.tls = tls;
  }
  if (spec.http === undefined && spec.tcp === undefined && spec.tls === undefined) doc.ctx.report(["spec"], "expected http, tcp or tls routes");
  return built;
}

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
}
