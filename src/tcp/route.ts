// Which backend a TCP or TLS-passthrough connection goes to. Pure: reads the provisioned plan
// only; the listener adapter (listeners/node-tcp.ts) does the sockets.

import type { StreamBackend, StreamRouting } from "../listeners/_shared/types.ts";
import type {
  StreamListenerPlan,
  StreamRoutePlan,
  TcpListenerPlan,
  TlsPassthroughListenerPlan,
} from "../provision/plan.ts";
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
export function streamListenerSpec(plan: StreamListenerPlan): StreamRouting {
  if (plan.kind === "tcp") {
    return { sni: false, backend: () => pickFrom(tcpRoute(plan)) };
  }
  return { sni: true, backend: (serverName) => pickFrom(passthroughRoute(plan, serverName)) };
}

function pickFrom(route: StreamRoutePlan | undefined): StreamBackend | undefined {
  return route === undefined ? undefined : pickWeighted(route);
}
