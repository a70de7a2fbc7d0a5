// Istio VirtualService → routes bound to Gateways. A VirtualService attaches to a Gateway only
// through `gateways:` (Istio: omitted means "mesh", i.e. sidecars, not a gateway) and only for
// the hosts both list; the listener's host filter and the route table together give exactly
// that intersection at request time.
// Field reference: https://istio.io/latest/docs/reference/config/networking/virtual-service/
import * as v from "valibot";
import { parseHttpRoute } from "../http-route-build.ts";
import type { Config, HttpRouteConfig, VirtualHostConfig } from "../model.ts";
import { list, mapping, rule, text, validate } from "../schema-kit.ts";
import type { Reporter } from "../report.ts";
import type { FieldPath } from "../yaml-locate.ts";
import type { IstioDoc } from "./document.ts";
import { istioTcpRoutes, istioTlsRoutes } from "./l4-route.ts";

export interface VirtualServiceOptions {
  /** Gateway name → names of the listeners it produced. */
  gateways: Map<string, string[]>;
  /** Services, and the default route timeout, so far. */
  config: Config;
  /** `--port FROM=TO`: ports in matches are the Gateway's as written, mapped like its listeners. */
  portMap: Map<number, number>;
}

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService
const SpecSchema = v.pipe(
  mapping("a mapping with hosts, gateways and http, tcp or tls routes", {
    hosts: list("a non-empty list of host names", text("a host name", 1), 1),
    gateways: v.optional(list("a list of Gateway names", text("a Gateway name", 1))),
    // Each route is checked on its own, so one route's mistake does not hide another's.
    http: v.optional(list("a list of HTTP routes", v.unknown())),
    tcp: v.optional(v.unknown()),
    tls: v.optional(v.unknown()),
    // Limits visibility across namespaces; there is one namespace here.
    exportTo: v.optional(list("a list of namespaces", text("a namespace"))),
  }),
  rule((spec, add) => {
    if (!("http" in spec) && !("tcp" in spec) && !("tls" in spec))
      add([], "expected http, tcp or tls routes");
  }),
);

export function translateVirtualService(
  doc: IstioDoc,
  opts: VirtualServiceOptions,
): VirtualHostConfig | undefined {
  const spec = validate(SpecSchema, doc.raw.spec ?? {}, ["spec"], doc.ctx);
  if (!spec) return undefined;
  const gatewayNames = spec.gateways ?? ["mesh"];
  const listeners: string[] = [];
  gatewayNames.forEach((g, i) => {
    const name = g.includes("/") ? g.slice(g.indexOf("/") + 1) : g;
    if (name === "mesh") return;
    const bound = opts.gateways.get(name);
    if (!bound)
      doc.ctx.report(
        ["spec", "gateways", i],
        `no Gateway named "${name}" was loaded (known: ${[...opts.gateways.keys()].join(", ") || "none"})`,
      );
    else listeners.push(...bound);
  });
  if (listeners.length === 0) {
    if (gatewayNames.every((g) => g === "mesh" || g.endsWith("/mesh"))) {
      doc.ctx.report(
        [],
        `VirtualService ${doc.name} is bound to no Gateway (gateways: ${gatewayNames.join(", ")}); ignored`,
        "warning",
      );
    }
    return undefined;
  }

  const { config, portMap } = opts;
  const lookup = {
    services: config.services,
    unknownServiceHint: (s: string) => `; give its address with --service ${s}=http://HOST:PORT`,
  };
  const http: HttpRouteConfig[] = [];
  (spec.http ?? []).forEach((r, j) => {
    if (porticoOnly(r, ["spec", "http", j], doc.ctx)) return;
    const built = parseHttpRoute(r, ["spec", "http", j], lookup, config.settings.timeoutMs, doc.ctx);
    if (!built) return;
    // A match's port is compared with the port the request came in on, which is the bound one.
    for (const m of built.match) if (m.port !== undefined) m.port = portMap.get(m.port) ?? m.port;
    http.push(built);
  });
  const hosts = spec.hosts.map((h) => h.toLowerCase());
  const built: VirtualHostConfig = { hosts, listeners, http, source: doc.ctx.source(["spec"]) };
  // A tls route's listeners are the Gateways' TLS (PASSTHROUGH) ones, a tcp route's their TCP
  // ones: provisioning binds each route to the listeners of its kind among `listeners`.
  if (spec.tcp !== undefined) {
    const tcp = istioTcpRoutes(spec.tcp, doc, { config, portMap });
    if (tcp) built.tcp = tcp;
  }
  if (spec.tls !== undefined) {
    const tls = istioTlsRoutes(spec.tls, hosts, doc, { config, portMap });
    if (tls) built.tls = tls;
  }
  return built;
}

/**
 * The HTTPRoute fields routes.yaml adds (`websocket`, `idleTimeout`, `maxRequestBodyBytes`) are
 * not Istio's: a VirtualService that names one is refused, not silently given a meaning Istio
 * does not have. Istio has no per-route upgrade switch (upgrades are on, as in Istio) nor body
 * limit (its listeners take settings.limits).
 */
function porticoOnly(raw: unknown, at: FieldPath, ctx: Reporter): boolean {
  if (typeof raw !== "object" || raw === null) return false;
  let found = false;
  for (const k of ["websocket", "idleTimeout", "maxRequestBodyBytes"]) {
    if (!(k in raw)) continue;
    found = true;
    const why =
      k === "maxRequestBodyBytes"
        ? "Istio listeners take the body limit of routes.yaml settings.limits"
        : "Istio routes allow upgrades";
    ctx.report([...at, k], `is a routes.yaml field, not an Istio HTTPRoute field; ${why}`);
  }
  return found;
}
