// The DestinationRule connectionPool settings that act on connections, as the upstream clients
// apply them: which settings a pool has (none when all are Istio's defaults, so a pool that only
// balances keeps the runtime's default client), and what is done to every socket a client opens
// (the connect timer, SO_KEEPALIVE). The limits (maxConnections, pending requests, retries) are
// the pool's (pool/circuit-breaker.ts); reuse and idleness are each client's (node-client.ts
// through connection-agent.ts, h2-client.ts).

import type { Socket } from "node:net";
import { UpstreamConnectTimeoutError } from "../util/errors.ts";
import { type ConnectionPoolSpec, connectionPool } from "./pool/types.ts";
import type { UpstreamConnection } from "./types.ts";

const DEFAULTS = connectionPool();

/**
 * The connection settings of a pool, or undefined when each is Istio's default (connectTimeout
 * 10 s, idleTimeout 1 h, maxRequestsPerConnection 0, no tcpKeepalive). A value written equal to
 * its default is not told apart from one left out: the spec carries values, not what was written.
 */
export function connectionSettings(c: ConnectionPoolSpec | undefined): UpstreamConnection | undefined {
  if (
    c === undefined ||
    (c.connectTimeoutMs === DEFAULTS.connectTimeoutMs &&
      c.idleTimeoutMs === DEFAULTS.idleTimeoutMs &&
      c.maxRequestsPerConnection === DEFAULTS.maxRequestsPerConnection &&
      c.tcpKeepalive === undefined)
  )
    return undefined;
  return {
    connectTimeoutMs: c.connectTimeoutMs,
    idleTimeoutMs: c.idleTimeoutMs,
    maxRequestsPerConnection: c.maxRequestsPerConnection,
    ...(c.tcpKeepalive ? { tcpKeepalive: c.tcpKeepalive } : {}),
  };
}

/**
 * Applies the settings to a socket that is being opened: SO_KEEPALIVE when asked (set before the
 * connection is up, which Bun, Deno and Node all carry over to it), and the connect timer. The
 * timer stops at `established`: "connect", or "secureConnect" for TLS, since Envoy's
 * connect_timeout covers the TLS handshake ("If TLS is used, the timeout also applies to TLS
 * session setup"; a connection is Connected once its transport socket says so). On expiry
 * `fail` gets an UpstreamConnectTimeoutError (by default the socket is destroyed with it, which
 * node:http hands to the request as its error).
 */
export function dial(
  socket: Socket,
  established: "connect" | "secureConnect",
  c: UpstreamConnection,
  where: string,
  fail: (err: Error) => void = (err) => socket.destroy(err),
): void {
  // 0 keeps the system's idle time and only turns keepalive on (node:net's setKeepAlive).
  if (c.tcpKeepalive) socket.setKeepAlive(true, c.tcpKeepalive.timeMs ?? 0);
  const timer = setTimeout(() => {
    const ms = c.connectTimeoutMs;
    fail(new UpstreamConnectTimeoutError(`connection timeout: no connection to ${where} within ${ms} ms`));
  }, c.connectTimeoutMs);
  const stop = () => clearTimeout(timer);
  socket.once(established, stop);
  socket.once("close", stop);
}
