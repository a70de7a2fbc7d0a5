// Istio's TCPRoute and TLSRoute (a routes.yaml entry's `tcp` / `tls`, a VirtualService's
// `spec.tcp` / `spec.tls`) and the PASSTHROUGH servers of a TLS listener: the schemas, the
// builders into the model, and the checks across entries (an SNI name routed twice, an HTTP route
// to a tcp:// service). The checks that need listeners and routes together are provisioning's
// (provision/tcp.ts).

import * as v from "valibot";
import { buildDestinations, type ServiceLookup } from "./http-route-build.ts";
import { Destination, weight } from "./http-route-schema.ts";
import { hostsOncePerPort } from "./listener-checks.ts";
import type {
  TcpRouteConfig,
  TlsPassthroughServerConfig,
  TlsRouteConfig,
  VirtualHostConfig,
} from "./model.ts";
import { placeOf, type Reporter } from "./report.ts";
import { host, list, mapping, port } from "./schema-kit.ts";
import type { FieldPath } from "./yaml-locate.ts";

/**
 * The TCPRoute and TLSRoute schemas. `unsupportedMatch`: match fields Portico refuses with a
 * reason (Istio documents name fields that mean nothing in routes.yaml).
 */
export function l4RouteSchemas(unsupportedMatch: Record<string, string> = {}) {
  const destination = mapping("a mapping with destination and optional weight", {
    destination: Destination,
    weight: v.optional(weight),
  });
  const route = list("a non-empty list of destinations", destination, 1);
  const tcpMatch = mapping("a mapping with port", { port: v.optional(port) }, unsupportedMatch);
  const tcp = mapping("a mapping with match and route", {
    match: v.optional(list("a list of match conditions", tcpMatch)),
    route,
  });
  const sniHosts = list('a non-empty list of SNI names ("name", "*.suffix" or "*")', host, 1);
  const tlsMatch = mapping(
    "a mapping with sniHosts and optional port",
    { sniHosts, port: v.optional(port) },
    unsupportedMatch,
  );
  const tls = mapping("a mapping with match and route", {
    match: list("a non-empty list of match conditions, each with sniHosts", tlsMatch, 1),
    route,
  });
  return { tcp, tls };
}

const schemas = l4RouteSchemas();
export type RawTcpRoute = v.InferOutput<typeof schemas.tcp>;
export type RawTlsRoute = v.InferOutput<typeof schemas.tls>;

/** The PASSTHROUGH servers of a TLS listener, each with its path; a host may be listed once per port. */
export function buildPassthroughServers(
  servers: { hosts: string[]; at: FieldPath }[],
  port: number,
  ctx: Reporter,
): TlsPassthroughServerConfig[] {
  const hosts = hostsOncePerPort(servers, port, ctx, "SNI host", "passed through");
  return servers.map(({ at }, j) => ({ hosts: hosts[j]!, mode: "PASSTHROUGH", source: ctx.source(at) }));
}

/** `mapPort`: a match's port as written → the port bound (`--port FROM=TO` for Istio documents). */
export function buildTcpRoute(
  route: RawTcpRoute,
  at: FieldPath,
  services: ServiceLookup,
  ctx: Reporter,
  mapPort: (port: number) => number = (p) => p,
): TcpRouteConfig {
  const match = (route.match ?? []).map((m) => (m.port === undefined ? {} : { port: mapPort(m.port) }));
  const destinations = buildDestinations(route.route, [...at, "route"], services, ctx);
  return { match, destinations, source: ctx.source(at) };
}

/** `hosts.names`: the entry's hosts, which every sniHost must be among; `hosts.owner` says whose. */
export function buildTlsRoute(
  route: RawTlsRoute,
  at: FieldPath,
  hosts: { names: string[]; owner: string },
  services: ServiceLookup,
  ctx: Reporter,
  mapPort: (port: number) => number = (p) => p,
): TlsRouteConfig {
  const match = route.match.map((m, k) => {
    const sniHosts = m.sniHosts.map((sni, n) => {
      const lower = sni.toLowerCase();
      // Istio's rule: every sniHost must be one of the VirtualService's hosts (or under one).
      if (!hosts.names.some((h) => covers(h, lower))) {
        const among = `${hosts.owner} hosts (${hosts.names.join(", ")})`;
        const message = `"${lower}" is not among ${among}; add it to hosts or fix the name`;
        ctx.report([...at, "match", k, "sniHosts", n], message);
      }
      return lower;
    });
    return m.port === undefined ? { sniHosts } : { sniHosts, port: mapPort(m.port) };
  });
  const destinations = buildDestinations(route.route, [...at, "route"], services, ctx);
  return { match, destinations, source: ctx.source(at) };
}

/**
 * Whether host pattern `outer` covers `inner`: "*" covers all; "*.a.com" covers "b.a.com" and "*.b.a.com".
 */
export function covers(outer: string, inner: string): boolean {
  if (outer === "*" || outer === inner) return true;
  if (!outer.startsWith("*.")) return false;
  const suffix = outer.slice(1); // ".a.com"
  const name = inner.startsWith("*.") ? inner.slice(1) : inner;
  return name.length > suffix.length && name.endsWith(suffix);
}

/** One routes entry as the cross-entry checks see it: where it was written and who reports there. */
export interface PlacedEntry {
  entry: VirtualHostConfig;
  /** The entry's path in its document: `routes[i]` in routes.yaml, `spec` in a VirtualService. */
  at: FieldPath;
  ctx: Reporter;
}

/**
 * Checks across routes entries: a destination of an HTTP route must speak HTTP (not tcp://), and
 * the same SNI name may be routed only once per port (a second route could never be chosen).
 * `services` undefined skips the first check (that section had errors).
 */
export function checkL4Routes(entries: PlacedEntry[], services: ServiceLookup["services"]): void {
  for (const { entry, at, ctx } of entries) {
    entry.http.forEach((route, j) => {
      route.destinations.forEach((d, k) => {
        const service = services?.get(d.service);
        if (!service?.url.startsWith("tcp:")) return;
        const why =
          "which only tcp and tls routes can use; an HTTP route needs an http:// or https:// service";
        ctx.report(
          [...at, "http", j, "route", k, "destination"],
          `service "${d.service}" is ${service.url}, ${why}`,
        );
      });
    });
  }
  const routedBy = new Map<string, string>();
  for (const { entry, at, ctx } of entries) {
    (entry.tls ?? []).forEach((route, j) => {
      route.match.forEach((m, k) => {
        m.sniHosts.forEach((sni, n) => {
          const port = m.port === undefined ? "*" : String(m.port);
          // A route for every port clashes with one for any port, and the other way round.
          const anyPort = () => [...routedBy].find(([key]) => key.endsWith(`|${sni}`))?.[1];
          const clash =
            routedBy.get(`${port}|${sni}`) ?? (port === "*" ? anyPort() : routedBy.get(`*|${sni}`));
          if (!clash) {
            routedBy.set(`${port}|${sni}`, placeOf(route.source));
            return;
          }
          const what = `SNI host "${sni}"${m.port === undefined ? "" : ` on port ${m.port}`}`;
          const message = `${what} is already routed by ${clash}; only the first route could ever be chosen`;
          ctx.report([...at, "tls", j, "match", k, "sniHosts", n], message);
        });
      });
    });
  }
}
