// Config → plans for TCP and TLS-passthrough listeners: binds each listener to the tcp / tls
// routes that can reach it, and reports routes that reach no listener. Runs for routes.yaml and
// Istio documents alike (the loader checks only what one file can show).

import { resolveStreamLimits } from "../config/limits.ts";
import type {
  Config,
  DestinationConfig,
  TcpListenerConfig,
  TlsPassthroughListenerConfig,
  VirtualHostConfig,
} from "../config/model.ts";
import { covers } from "../config/tcp-route.ts";
import type { ConfigIssue } from "../util/errors.ts";
import { HostTable } from "../util/host-table.ts";
import { issueAt, warningAt } from "./issues.ts";
import type {
  StreamListenerPlan,
  StreamRoutePlan,
  StreamUpstream,
  PoolPlan,
  TcpListenerPlan,
  TlsPassthroughListenerPlan,
} from "./plan.ts";
import { poolKey } from "./pools.ts";

export function compileStreamListeners(
  config: Config,
  pools: ReadonlyMap<string, PoolPlan>,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
): StreamListenerPlan[] {
  const out: StreamListenerPlan[] = [];
  for (const l of config.listeners) {
    if (l.protocol === "TCP") out.push(tcpListener(l, config, pools, warnings));
    else if (l.protocol === "TLS") out.push(passthroughListener(l, config, pools, issues, warnings));
  }
  checkRoutesReachListeners(config, issues);
  warnAboutServiceTls(config, warnings);
  return out;
}

function bound(entry: VirtualHostConfig, listener: { name: string }): boolean {
  return entry.listeners === undefined || entry.listeners.includes(listener.name);
}

function tcpListener(
  l: TcpListenerConfig,
  config: Config,
  pools: ReadonlyMap<string, PoolPlan>,
  warnings: ConfigIssue[],
): TcpListenerPlan {
  let route: StreamRoutePlan | undefined;
  config.routes.forEach((entry, i) => {
    if (!bound(entry, l)) return;
    (entry.tcp ?? []).forEach((r, j) => {
      if (r.match.length > 0 && !r.match.some((m) => m.port === undefined || m.port === l.port)) return;
      const name = `routes[${i}].tcp[${j}]`;
      if (!route) {
        route = streamRoute(name, r.destinations, config, pools);
        return;
      }
      const taken = `${route.name} already takes every connection on port ${l.port}`;
      warnings.push(warningAt(r.source, `never chosen on listener "${l.name}": ${taken}`));
    });
  });
  if (!route) {
    const message =
      `TCP listener "${l.name}" has no tcp route for port ${l.port}; ` + "its connections will be closed";
    warnings.push(warningAt(l.source, message));
  }
  const limits = resolveStreamLimits(l.limits, config.settings.limits);
  return { kind: "tcp", name: l.name, address: l.address, port: l.port, limits, route };
}

function passthroughListener(
  l: TlsPassthroughListenerConfig,
  config: Config,
  pools: ReadonlyMap<string, PoolPlan>,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
): TlsPassthroughListenerPlan {
  const hosts = new HostTable<true>();
  for (const s of l.servers) for (const h of s.hosts) hosts.add(h, true);
  const routeBySni = new HostTable<StreamRoutePlan>();
  config.routes.forEach((entry, i) => {
    if (!bound(entry, l)) return;
    (entry.tls ?? []).forEach((r, j) => {
      const route = streamRoute(`routes[${i}].tls[${j}]`, r.destinations, config, pools);
      r.match.forEach((m, k) => {
        if (m.port !== undefined && m.port !== l.port) return;
        m.sniHosts.forEach((sni, n) => {
          if (!l.servers.some((s) => s.hosts.some((h) => overlap(h, sni)))) {
            // Only a route that names this port must be served here; a port-less one may be meant for another
            // TLS listener.
            if (m.port !== undefined) {
              const message =
                `"${sni}" is routed on port ${l.port}, but no PASSTHROUGH server of listener "${l.name}" ` +
                "lists it; add it to a server's hosts";
              issues.push(issueAt(r.source, message, `.match[${k}].sniHosts[${n}]`));
            }
            return;
          }
          // The first route for a name wins (the loader reports duplicates it can see).
          routeBySni.add(sni, route);
        });
      });
    });
  });
  const routed = routedNames(l, config);
  for (const s of l.servers) {
    for (const h of s.hosts) {
      if (routed.some((sni) => overlap(h, sni))) continue;
      const message = `no tls route for SNI "${h}" on port ${l.port}; such connections will be closed`;
      warnings.push(warningAt(s.source, message));
    }
  }
  const limits = resolveStreamLimits(l.limits, config.settings.limits);
  return {
    kind: "tls-passthrough",
    name: l.name,
    address: l.address,
    port: l.port,
    limits,
    hosts,
    routeBySni,
  };
}

/** Two host patterns share a name ("*.a.com" and "b.a.com", "*" and anything). */
function overlap(a: string, b: string): boolean {
  return covers(a, b) || covers(b, a);
}

function routedNames(l: TlsPassthroughListenerConfig, config: Config): string[] {
  return config.routes.flatMap((entry) =>
    bound(entry, l)
      ? (entry.tls ?? []).flatMap((r) =>
          r.match.flatMap((m) => (m.port === undefined || m.port === l.port ? m.sniHosts : [])),
        )
      : [],
  );
}

/** A tcp or tls route that names a port needs a listener of its kind there; one without a port, any. */
function checkRoutesReachListeners(config: Config, issues: ConfigIssue[]): void {
  config.routes.forEach((entry) => {
    const kinds = [
      { routes: entry.tcp ?? [], protocol: "TCP", word: "tcp" },
      { routes: entry.tls ?? [], protocol: "TLS", word: "tls" },
    ] as const;
    for (const { routes, protocol, word } of kinds) {
      const listeners = config.listeners.filter((l) => l.protocol === protocol && bound(entry, l));
      for (const r of routes) {
        if (listeners.length === 0) {
          const which =
            entry.listeners === undefined
              ? ""
              : ` among the listeners this entry attaches to (${entry.listeners.join(", ")})`;
          const message = `${word} routes need a listener with protocol: ${protocol}${which}; there is none`;
          issues.push(issueAt(r.source, message));
          continue;
        }
        r.match.forEach((m, k) => {
          if (m.port !== undefined && !listeners.some((l) => l.port === m.port)) {
            const ports = listeners.map((l) => l.port).join(", ");
            const fix = `add a listener with protocol: ${protocol} and port: ${m.port}, or fix the port`;
            const others = `${protocol} listeners: ${ports}`;
            const message = `no ${protocol} listener on port ${m.port} (${others}); ${fix}`;
            issues.push(issueAt(r.source, message, `.match[${k}].port`));
          }
        });
      }
    }
  });
}

function warnAboutServiceTls(config: Config, warnings: ConfigIssue[]): void {
  const used = new Set<string>();
  for (const entry of config.routes)
    for (const r of [...(entry.tcp ?? []), ...(entry.tls ?? [])])
      for (const d of r.destinations) used.add(d.service);
  for (const name of used) {
    const s = config.services.get(name);
    if (!s?.tls) continue;
    const message =
      `the tls settings of service "${name}" do not apply to tcp and tls routes, ` +
      "which forward bytes as they are";
    warnings.push(warningAt(s.source, message));
  }
}

function streamRoute(
  name: string,
  destinations: DestinationConfig[],
  config: Config,
  pools: ReadonlyMap<string, PoolPlan>,
): StreamRoutePlan {
  // The loader has already checked that every destination names a known service (and subset).
  const upstreams: StreamUpstream[] = destinations.map((d) => {
    const { host, port } = config.services.get(d.service)!;
    const u: StreamUpstream = { service: d.service, host, port, weight: d.weight };
    const pool = pools.get(poolKey(d.service, d.subset?.name))!;
    if (!pool.direct) u.pool = pool;
    return u;
  });
  return { name, upstreams, totalWeight: upstreams.reduce((sum, u) => sum + u.weight, 0) };
}
