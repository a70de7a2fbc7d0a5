// A VirtualService's `tcp` and `tls` routes (Istio's TCPRoute and TLSRoute) → the model, with
// routes.yaml's builders (tcp-route.ts: sniHosts must be among the VirtualService's hosts) and
// the HTTP route's destination builder (a destination is the same Istio Destination there:
// `host` resolves to a service, `.svc.cluster.local` names included; `port` is the service's).
// Ports in `match` are the Gateway's ports as written, so `--port FROM=TO` applies to them as to
// the Gateway's listeners.
// Field reference: https://istio.io/latest/docs/reference/config/networking/virtual-service/#TCPRoute

import * as v from "valibot";
import { hostProblem } from "../schema.ts";
import { checked, expecting, integer, list, mapping } from "../schema-kit.ts";
import type { Config, DestinationConfig, ServiceConfig, TcpRouteConfig, TlsRouteConfig } from "../model.ts";
import { buildTcpRoutes, buildTlsRoutes, type Reporter } from "../tcp-route.ts";
import type { FieldPath } from "../yaml-locate.ts";
import { istioDestinations } from "./http-route.ts";
import { translatedReporter, validate, type IstioDoc } from "./document.ts";

/** Istio's L4MatchAttributes and TLSMatchAttributes beyond port and sniHosts. */
const UNSUPPORTED_MATCH = {
  destinationSubnets: "Portico chooses tcp and tls routes by port (and SNI) only; bind Portico to the address instead (--bind)",
  sourceLabels: "Portico is an edge proxy; connections do not come from labelled workloads",
  sourceNamespace: "Portico is an edge proxy; connections do not come from a namespace",
  sourceSubnet: "Portico chooses tcp and tls routes by port (and SNI) only",
  gateways: "the route applies to the Gateways in the VirtualService's gateways; use port to pick a listener",
};

const port = integer("an integer 1..65535", 1, 65535);
const HOST = 'a host name, "*.suffix" or "*"';
const sniHost = checked(HOST, hostProblem);

// Istio's RouteDestination: destination and weight, checked by the HTTP route's rules below.
const RouteDestination = mapping("a mapping with destination and optional weight", {
  destination: expecting("a mapping with host", v.unknown()),
  weight: v.optional(v.unknown()),
});
const route = list("a non-empty list of destinations", RouteDestination, 1);

const TcpRouteSchema = mapping("a mapping with match and route", {
  match: v.optional(list("a list of match conditions", mapping("a mapping with port", { port: v.optional(port) }, UNSUPPORTED_MATCH))),
  route,
});

const TlsRouteSchema = mapping("a mapping with match and route", {
  match: list(
    "a non-empty list of match conditions, each with sniHosts",
    mapping("a mapping with sniHosts and optional port", { sniHosts: list('a non-empty list of SNI names ("name", "*.suffix" or "*")', sniHost, 1), port: v.optional(port) }, UNSUPPORTED_MATCH),
    1,
  ),
  route,
});

export interface L4RouteOptions {
  config: Config;
  /** `--port FROM=TO`, as for the Gateway listeners. */
  portMap: Map<number, number>;
}

/** `spec.tcp`; undefined when there were problems (reported). */
export function istioTcpRoutes(raw: unknown, doc: IstioDoc, opts: L4RouteOptions): TcpRouteConfig[] | undefined {
  return eachRoute("tcp", raw, TcpRouteSchema, doc, (route, ctx) =>
    buildTcpRoutes([{ ...route, match: route.match?.map((m) => mapPort(m, opts)) }] as Parameters<typeof buildTcpRoutes>[0], 0, opts.config.services, ctx, destinations(opts.config)),
  );
}

/** `spec.tls`; `hosts` are the VirtualService's (every sniHost must be among them). */
export function istioTlsRoutes(raw: unknown, hosts: string[], doc: IstioDoc, opts: L4RouteOptions): TlsRouteConfig[] | undefined {
  return eachRoute("tls", raw, TlsRouteSchema, doc, (route, ctx) =>
    buildTlsRoutes([{ ...route, match: route.match.map((m) => mapPort(m, opts)) }] as Parameters<typeof buildTlsRoutes>[0], 0, hosts, opts.config.services, ctx, destinations(opts.config)),
  );
}

function mapPort<M extends { port?: number }>(m: M, opts: L4RouteOptions): M {
  return m.port === undefined ? m : { ...m, port: opts.portMap.get(m.port) ?? m.port };
}

/**
 * Checks and builds each route of `spec.<kind>` on its own, so that one route's mistake does not
 * hide another's. The builders report at `routes[0].<kind>[0]...`: that is `spec.<kind>[j]...` here.
 */
function eachRoute<S extends v.GenericSchema, R>(
  kind: "tcp" | "tls",
  raw: unknown,
  schema: S,
  doc: IstioDoc,
  build: (route: v.InferOutput<S>, ctx: Reporter) => R[],
): R[] | undefined {
  const routes = validate(list(`a non-empty list of ${kind.toUpperCase()} routes`, v.unknown(), 1), raw, ["spec", kind], doc);
  if (!routes) return undefined;
  const out: R[] = [];
  let failed = false;
  routes.forEach((r, j) => {
    const route = validate(schema, r, ["spec", kind, j], doc);
    if (route === undefined) {
      failed = true;
      return;
    }
    const ctx = translatedReporter(
      (path) => (path[0] === "routes" ? { doc, path: ["spec", kind, j, ...path.slice(4)] } : undefined),
      doc,
      (message) => message.replace("this entry's hosts", "the VirtualService's hosts"),
    );
    out.push(...build(route, ctx));
  });
  return failed ? undefined : out;
}

/** BuildDestinations for tcp-route.ts: the route list of `routes[0].tcp[j]`, by the HTTP route's rules. */
function destinations(config: Config) {
  return (raw: unknown[], at: FieldPath, _services: Map<string, ServiceConfig> | undefined, ctx: Reporter): DestinationConfig[] =>
    istioDestinations(raw, at.slice(0, -1), ctx, config) ?? [];
}
