// How one try at an endpoint ended, as the proxy reports it to the pool.

/**
 * A response status, or a failure of Portico's own making (local origin, in Envoy's words):
 * `connect-failure` (refused, unreachable, connect timeout), `reset` (the connection dropped
 * before response headers) or `timeout` (no response headers in time).
 */
export type Outcome = number | "connect-failure" | "reset" | "timeout";

/**
 * The status Envoy maps a local-origin result to when local and external errors are not split
 * (outlier_detection_impl.cc resultToHttpCode): a connect failure is a 503 and a timeout a 504,
 * so both count as 5xx and as gateway errors. The router reports any upstream reset as a connect
 * failure (router.cc onUpstreamReset), so a reset is a 503 too.
 */
export function outcomeStatus(outcome: Outcome): number {
  if (typeof outcome === "number") return outcome;
  return outcome === "timeout" ? 504 : 503;
}

export const isGatewayError = (status: number) => status === 502 || status === 503 || status === 504;
