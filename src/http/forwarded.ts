// What a client may tell upstreams about itself: x-forwarded-for/-proto, x-envoy-* and
// x-request-id, handled as Envoy's HTTP connection manager does with use_remote_address true (as
// Istio gateways set it) and xff_num_trusted_hops = the listener's numTrustedProxies (Istio's
// gatewayTopology.numTrustedProxies). Source: envoy source/common/http/conn_manager_utility.cc
// (mutateRequestHeaders, cleanInternalHeaders) and the docs page
// config/http/http_conn_man/headers ("x-forwarded-for", "x-forwarded-proto",
// "x-envoy-external-address", "x-request-id").
//
// Every request counts as external ("edge"): Portico has no internal network to trust, which is
// Envoy with an empty internal_address_config. Envoy's legacy default instead treats an RFC 1918
// or loopback peer that sent no x-forwarded-for as internal and keeps its x-envoy-* headers.

import { isIP } from "node:net";
import type { ForwardTrust } from "../provision/route-plan.ts";

/**
 * x-envoy-* request headers that steer Envoy itself (retries, timeouts, tracing, stats) or
 * describe an internal hop: cleanInternalHeaders removes them from every external request, and
 * x-envoy-internal from every request. x-envoy-external-address is set by the edge itself.
 */
export const EXTERNAL_STRIPPED: ReadonlySet<string> = new Set([
  "x-envoy-internal",
  "x-envoy-external-address",
  "x-envoy-decorator-operation",
  "x-envoy-downstream-service-cluster",
  "x-envoy-downstream-service-node",
  "x-envoy-retriable-status-codes",
  "x-envoy-retriable-header-names",
  "x-envoy-retry-on",
  "x-envoy-retry-grpc-on",
  "x-envoy-max-retries",
  "x-envoy-upstream-alt-stat-name",
  "x-envoy-upstream-rq-timeout-ms",
  "x-envoy-upstream-rq-per-try-timeout-ms",
  "x-envoy-upstream-rq-timeout-alt-response",
  "x-envoy-expected-rq-timeout-ms",
  "x-envoy-force-trace",
  "x-envoy-ip-tags",
  "x-envoy-original-url",
  "x-envoy-hedge-on-per-try-timeout",
]);

/**
 * The client's address: the `trusted`-th entry from the right of x-forwarded-for as received
 * (Envoy's getLastAddressFromXFF with trusted - 1 entries skipped), or the connection's peer
 * when nothing is trusted, the header is too short, or that entry is not a bare IP address.
 */
export function trustedClientAddress(xff: string | null, peer: string, trusted: number): string {
  if (trusted <= 0 || xff === null) return peer;
  const entries = xff.split(",");
  const entry = entries[entries.length - trusted]?.trim();
  return entry !== undefined && isIP(entry) !== 0 ? entry : peer;
}

/**
 * Sets the forwarding headers on `out` (a copy of the request's headers, client x-envoy-*
 * already dropped); `client` is trustedClientAddress's answer. Appended: x-forwarded-for gets
 * the peer. Overwritten: x-forwarded-proto (kept from a trusted proxy that sent one),
 * x-envoy-external-address, x-request-id (unless preserved). x-forwarded-host is Portico's own
 * (Envoy sets it only when it rewrites the host).
 */
export function setForwardingHeaders(
  out: Headers,
  src: Headers,
  peer: string,
  client: string,
  scheme: string,
  trust: ForwardTrust,
): void {
  const xff = src.get("x-forwarded-for");
  if (peer) out.set("x-forwarded-for", xff ? `${xff}, ${peer}` : peer);
  if (trust.numTrustedProxies === 0 || !src.has("x-forwarded-proto")) out.set("x-forwarded-proto", scheme);
  if (isIP(client) !== 0) out.set("x-envoy-external-address", client);
  if (!trust.preserveExternalRequestId || !out.has("x-request-id"))
    out.set("x-request-id", crypto.randomUUID());
}
