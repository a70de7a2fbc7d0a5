// When a try is retried: Envoy's x-envoy-retry-on conditions, as Istio's HTTPRetry.retryOn
// names them, and Envoy's default backoff.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on

import type { RetryPlan } from "../provision/route-plan.ts";
import { classifyError } from "../util/runtime-error.ts";

/** How a try failed without a response. */
export type TryFailure = "timeout" | "connect" | "reset" | "refused-stream";

export function retriableResponse(p: RetryPlan, res: Response): boolean {
  const s = res.status;
  if (p.on5xx && s >= 500) return true;
  if (p.gatewayError && (s === 502 || s === 503 || s === 504)) return true;
  if (p.retriable4xx && s === 409) return true;
  if (p.statusCodes.has(s)) return true;
  if (p.rateLimited && res.headers.has("x-envoy-ratelimited")) return true;
  if (p.grpcStatuses.size > 0) {
    const grpc = res.headers.get("grpc-status");
    if (grpc !== null && p.grpcStatuses.has(grpc)) return true;
  }
  return false;
}

export function retriableFailure(p: RetryPlan, failure: TryFailure): boolean {
  // Envoy counts a reset as a 5xx ("since it will result in one"), for 5xx and gateway-error
  // alike, and a per-try timeout as a 504.
  const asGatewayError = p.on5xx || p.gatewayError || p.reset;
  switch (failure) {
    case "timeout":
      return asGatewayError || p.statusCodes.has(504);
    case "connect":
      return asGatewayError || p.connectFailure;
    case "refused-stream":
      return asGatewayError || p.refusedStream;
    case "reset":
      return asGatewayError;
  }
}

/** What a failed exchange was, in Envoy's retry terms. */
export function classifyFailure(err: unknown): TryFailure {
  switch (classifyError(err).kind) {
    case "refused-stream":
      return "refused-stream";
    case "connection-refused":
    case "connect-timeout":
    case "unreachable":
      return "connect";
    default:
      return "reset";
  }
}

const BASE_MS = 25;
const MAX_MS = 250;

/**
 * Envoy's default backoff before retry number `n + 1`: fully jittered, growing as
 * (2^(n+1) - 1) × 25 ms, at most 250 ms (JitteredExponentialBackOffStrategy).
 */
export function backoffMs(n: number): number {
  return Math.min(Math.floor(Math.random() * BASE_MS * (2 ** (n + 1) - 1)), MAX_MS);
}
