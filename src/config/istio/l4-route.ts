// A VirtualService's `tcp` and `tls` routes (Istio's TCPRoute and TLSRoute) → the model, with
// routes.yaml's schemas and builders (tcp-route.ts: sniHosts must be among the VirtualService's
// hosts; a destination is the same Istio Destination as in HTTP routes: `host` resolves to a
// service, `.svc.cluster.local` names included; `port` is the service's).
// Ports in `match` are the Gateway's ports as written, so `--port FROM=TO` applies to them as to
// the Gateway's listeners.
// Field reference: https://istio.io/latest/docs/reference/config/networking/virtual-service/#TCPRoute

import * as v from "valibot";
import type { Config, TcpRouteConfig, TlsRouteConfig } from "../model.ts";
import { list, validate } from "../schema-kit.ts";
import { buildTcpRoute, buildTlsRoute, l4RouteSchemas } from "../tcp-route.ts";
import type { IstioDoc } from "./document.ts";

/** Istio's L4MatchAttributes and TLSMatchAttributes beyond port and sniHosts. */
const UNSUPPORTED_MATCH = {
  destinationSubnets:
    "Portico chooses tcp and tls routes by port (and SNI) only; bind Portico to the address instead (--bind)",
  sourceLabels: "Portico is an edge proxy; connections do not come from labelled workloads",
  sourceNamespace: "Portico is an edge proxy; connections do not come from a namespace",
  sourceSubnet: "Portico chooses tcp and tls routes by port (and SNI) only",
  gateways: "the route applies to the Gateways in the VirtualService's gateways; use port to pick a listener",
};

const schemas = l4RouteSchemas(UNSUPPORTED_MATCH);

export interface L4RouteOptions {
  config: Config;
  /** `--port FROM=TO`, as for the Gateway listeners. */
  portMap: Map<number, number>;
}

function lookup(config: Config) {
  return {
    services: config.services,
    unknownServiceHint: (s: string) => `; give its address with --service ${s}=tcp://HOST:PORT`,
  };
}

/** `spec.tcp`; undefined when there were problems (reported). */
export function istioTcpRoutes(
  raw: unknown,
  doc: IstioDoc,
  opts: L4RouteOptions,
): TcpRouteConfig[] | undefined {
  const mapPort = (p: number) => opts.portMap.get(p) ?? p;
  return eachRoute("tcp", raw, schemas.tcp, doc, (route, at) =>
    buildTcpRoute(route, at, lookup(opts.config), doc.ctx, mapPort),
  );
}

/** `spec.tls`; `hosts` are the VirtualService's (every sniHost must be among them). */
export function istioTlsRoutes(
  raw: unknown,
  hosts: string[],
  doc: IstioDoc,
  opts: L4RouteOptions,
): TlsRouteConfig[] | undefined {
  const mapPort = (p: number) => opts.portMap.get(p) ?? p;
  const owner = { names: hosts, owner: "the VirtualService's" };
  return eachRoute("tls", raw, schemas.tls, doc, (route, at) =>
    buildTlsRoute(route, at, owner, lookup(opts.config), doc.ctx, mapPort),
  );
}

/**
 * Checks and builds each route of `spec.<kind>` on its own, so that one route's mistake does not hide
 * another's.
 */
function eachRoute<S extends v.GenericSchema, R>(
  kind: "tcp" | "tls",
  raw: unknown,
  schema: S,
  doc: IstioDoc,
  build: (route: v.InferOutput<S>, at: (string | number)[]) => R,
): R[] | undefined {
  const routes = validate(
    list(`a non-empty list of ${kind.toUpperCase()} routes`, v.unknown(), 1),
    raw,
    ["spec", kind],
    doc.ctx,
  );
  if (!routes) return undefined;
  const out: R[] = [];
  let failed = false;
  routes.forEach((r, j) => {
    const at = ["spec", kind, j];
    const route = validate(schema, r, at, doc.ctx);
    if (route === undefined) failed = true;
    else out.push(build(route, at));
  });
  return failed ? undefined : out;
}
