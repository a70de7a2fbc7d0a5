// Which backend a TCP or TLS-passthrough connection goes to. Pure: reads the provisioned plan
// only; the listener adapter (listeners/node-tcp.ts) does the sockets.

import type { StreamBackend, StreamRouting } from "../listeners/_shared/types.ts";
import type {
  StreamListenerPlan,
  StreamRoutePlan,
  TcpListenerPlan,
  TlsPassthroughListenerPlan,
} from "../provision/plan.ts";
import { UpstreamPools } from "../upstream/pools.ts";
import { pickWeighted } from "../util/random.ts";

/** The route of a plain TCP listener (every connection alike). */
export function tcpRoute(plan: TcpListenerPlan): StreamRoutePlan | undefined {
  return plan.route;
}

/**
 * The route for a ClientHello's SNI on a passthrough listener: the name must be one a Gateway
 * server lists, and a tls route must match it (exact beats the longest wildcard beats "*").
 * A ClientHello without SNI matches only "*". Undefined: refuse the connection.
 */
export function passthroughRoute(
  plan: TlsPassthroughListenerPlan,
  serverName: string | undefined,
): StreamRoutePlan | undefined {
  const name = serverName?.toLowerCase() ?? "";
  if (!plan.hosts.match(name)) return undefined;
  return plan.routeBySni.match(name);
}

/** What the TCP listener adapter needs: whether to read the SNI, and where each connection goes. */
export function streamListenerSpec(
  plan: StreamListenerPlan,
  pools: UpstreamPools = new UpstreamPools(),
): StreamRouting {
  if (plan.kind === "tcp") {
    return { sni: false, backend: () => pickFrom(tcpRoute(plan), pools) };
  }
  return { sni: true, backend: (serverName) => pickFrom(passthroughRoute(plan, serverName), pools) };
}

/**
 * The destination, and for a pooled service one of its endpoints: admitted by the circuit
 * breaker (a connection held until it closes; over the limit the connection is refused, as
 * Envoy's tcp_proxy does on overflow), picked by the balancer (a consistent hash uses the
 * client's address only over HTTP, so here it picks at random), its connect result reported to
 * outlier detection; the pool's connectTimeout and tcpKeepalive apply to the connection.
 */
function pickFrom(route: StreamRoutePlan | undefined, pools: UpstreamPools): StreamBackend | undefined {
  const u = route === undefined ? undefined : pickWeighted(route);
  if (!u?.pool) return u;
  const pool = pools.for(u.pool.spec);
  const ticket = pool.admit();
  if (typeof ticket === "string") return undefined;
  const e = pool.pick();
  if (!e) {
    ticket.release();
    return undefined;
  }
  pool.begin(e);
  const { connectTimeoutMs, tcpKeepalive } = u.pool.spec.connectionPool;
  return {
    host: e.address,
    port: e.port,
    service: u.service,
    connectTimeoutMs,
    ...(tcpKeepalive ? { keepAliveMs: tcpKeepalive.timeMs ?? 0 } : {}),
    connected: (ok) => {
      if (ok) return;
      pool.end(e, "connect-failure");
      ticket.release();
    },
    closed: () => {
      pool.end(e, 200);
      ticket.release();
    },
  };
}
