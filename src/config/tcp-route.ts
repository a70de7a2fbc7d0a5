// routes.yaml → model for the L4 parts: TCP and TLS-passthrough listeners' servers, and the
// `tcp` / `tls` routes of a routes entry (Istio's TCPRoute and TLSRoute). Pure, like load.ts;
// the checks that need listeners and routes together live in provision/tcp.ts, so that
// Istio documents get them too.

import type { DestinationConfig, ServiceConfig, Source, TcpRouteConfig, TlsPassthroughServerConfig, TlsRouteConfig, VirtualHostConfig } from "./model.ts";
import { formatPath, type FieldPath } from "./yaml-locate.ts";

/** What load.ts's Context offers; kept structural so this file does not import load.ts. */
export interface Reporter {
  report(path: FieldPath, message: string): void;
  source(path: FieldPath): Source;
}

/** load.ts's destination builder (Istio's weight rule, unknown-service errors). */
export type BuildDestinations<C extends Reporter> = (
  raw: { destination: string; weight?: number }[],
  at: FieldPath,
  services: Map<string, ServiceConfig> | undefined,
  ctx: C,
) => DestinationConfig[];

type RawDestination = { destination: string; weight?: number };
type RawTcpRoute = { match?: { port?: number }[]; route: RawDestination[] };
type RawTlsRoute = { match: { sniHosts: string[]; port?: number }[]; route: RawDestination[] };

/** The PASSTHROUGH servers of a TLS listener; a host may be listed once per port. */
export function buildPassthroughServers(
  servers: { hosts: string[] }[],
  index: number,
  port: number,
  ctx: Reporter,
): TlsPassthroughServerConfig[] {
  const servedBy = new Map<string, string>();
  return servers.map((server, j) => {
    const at = ["listeners", index, "servers", j] as const;
    const hosts = server.hosts.map((host, k) => {
      const lower = host.toLowerCase();
      const previous = servedBy.get(lower);
      if (previous) ctx.report([...at, "hosts", k], `SNI host "${lower}" is already passed through on port ${port} by ${previous}`);
      else servedBy.set(lower, formatPath(at));
      return lower;
    });
    return { hosts, mode: "PASSTHROUGH", source: ctx.source(at) };
  });
}

export function buildTcpRoutes<C extends Reporter>(
  raw: RawTcpRoute[],
  entry: number,
  services: Map<string, ServiceConfig> | undefined,
  ctx: C,
  buildDestinations: BuildDestinations<C>,
): TcpRouteConfig[] {
  return raw.map((route, j) => {
    const at = ["routes", entry, "tcp", j] as const;
    const match = (route.match ?? []).map((m) => (m.port === undefined ? {} : { port: m.port }));
    const destinations = buildDestinations(route.route, [...at, "route"], services, ctx);
    return { match, destinations, source: ctx.source(at) };
  });
}

export function buildTlsRoutes<C extends Reporter>(
  raw: RawTlsRoute[],
  entry: number,
  entryHosts: string[],
  services: Map<string, ServiceConfig> | undefined,
  ctx: C,
  buildDestinations: BuildDestinations<C>,
): TlsRouteConfig[] {
  return raw.map((route, j) => {
    const at = ["routes", entry, "tls", j] as const;
    const match = route.match.map((m, k) => {
      const sniHosts = m.sniHosts.map((sni, n) => {
        const lower = sni.toLowerCase();
        // Istio's rule: every sniHost must be one of the VirtualService's hosts (or under one).
        if (!entryHosts.some((host) => covers(host, lower))) {
          ctx.report([...at, "match", k, "sniHosts", n], `"${lower}" is not among this entry's hosts (${entryHosts.join(", ")}); add it to hosts or fix the name`);
        }
        return lower;
      });
      return m.port === undefined ? { sniHosts } : { sniHosts, port: m.port };
    });
    const destinations = buildDestinations(route.route, [...at, "route"], services, ctx);
    return { match, destinations, source: ctx.source(at) };
  });
}

/** Whether host pattern `outer` covers `inner`: "*" covers all, "*.a.com" covers "b.a.com" and "*.b.a.com". */
export function covers(outer: string, inner: string): boolean {
  if (outer === "*" || outer === inner) return true;
  if (!outer.startsWith("*.")) return false;
  const suffix = outer.slice(1); // ".a.com"
  const name = inner.startsWith("*.") ? inner.slice(1) : inner;
  return name.length > suffix.length && name.endsWith(suffix);
}

/**
 * Checks across routes entries: a destination of an HTTP route must speak HTTP (not tcp://), and
 * the same SNI name may be routed only once per port (a second route could never be chosen).
 */
export function checkL4Routes(routes: VirtualHostConfig[], services: Map<string, ServiceConfig> | undefined, ctx: Reporter): void {
  if (services) {
    routes.forEach((entry, i) => {
      entry.http.forEach((route, j) => {
        route.destinations.forEach((d, k) => {
          const service = services.get(d.service);
          if (service?.url.startsWith("tcp:")) {
            ctx.report(["routes", i, "http", j, "route", k, "destination"], `service "${d.service}" is ${service.url}, which only tcp and tls routes can use; an HTTP route needs an http:// or https:// service`);
          }
        });
      });
    });
  }
  const routedBy = new Map<string, string>();
  routes.forEach((entry, i) => {
    (entry.tls ?? []).forEach((route, j) => {
      route.match.forEach((m, k) => {
        m.sniHosts.forEach((sni, n) => {
          const at: FieldPath = ["routes", i, "tls", j, "match", k, "sniHosts", n];
          const port = m.port === undefined ? "*" : String(m.port);
          const clash = routedBy.get(`${port}|${sni}`) ?? (port === "*" ? [...routedBy].find(([key]) => key.endsWith(`|${sni}`))?.[1] : routedBy.get(`*|${sni}`));
          if (clash) ctx.report(at, `SNI host "${sni}"${m.port === undefined ? "" : ` on port ${m.port}`} is already routed by ${clash}; only the first route could ever be chosen`);
          else routedBy.set(`${port}|${sni}`, formatPath(["routes", i, "tls", j]));
        });
      });
    });
  });
}
