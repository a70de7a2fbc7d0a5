// gRPC at the proxy: which requests are gRPC, their deadline (grpc-timeout), and the
// trailers-only error Envoy sends when it answers a gRPC request itself.

import type { ProxyRequest } from "../listeners/_shared/types.ts";

/** gRPC and its variants (application/grpc+proto, application/grpc+json, ...), not gRPC-Web. */
export function isGrpc(req: ProxyRequest): boolean {
  const type = req.headers.get("content-type");
  return type !== null && /^application\/grpc(\+|;|$)/i.test(type);
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * The timeout for a gRPC request as Istio configures Envoy: `max_grpc_timeout` is the route
 * timeout, so grpc-timeout applies, capped by the route timeout (0: uncapped), and a request
 * without one gets the route timeout. Returns ms, 0 for none.
 */
export function grpcTimeoutMs(req: ProxyRequest, routeTimeoutMs: number): number {
  const m = /^(\d{1,8})([HMSmun])$/.exec(req.headers.get("grpc-timeout") ?? "");
  if (!m) return routeTimeoutMs;
  const ms = Math.max(1, Math.ceil(Number(m[1]) * UNIT_MS[m[2]!]!));
  return routeTimeoutMs > 0 ? Math.min(ms, routeTimeoutMs) : ms;
}

/** Envoy's Grpc::Utility::httpToGrpcStatus (the gRPC project's HTTP-to-gRPC status mapping). */
export function grpcStatusOf(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/**
 * A reply Portico made itself (an error page, a 404), as Envoy's local reply for a gRPC
 * request: HTTP 200, trailers-only (grpc-status and grpc-message in the headers), no body. The
 * reply's other headers (server, route header operations) stay.
 */
export async function grpcLocalReply(res: Response): Promise<Response> {
  const text = res.body ? (await res.text()).trim() : "";
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  headers.set("content-type", "application/grpc");
  headers.set("grpc-status", String(grpcStatusOf(res.status)));
  headers.set("grpc-message", percentEncode(text || defaultMessage(res.status)));
  return new Response(null, { status: 200, headers });
}

function defaultMessage(status: number): string {
  return status === 404 ? "no route for this request" : `HTTP status ${status}`;
}

/** grpc-message's encoding: bytes outside printable ASCII, and "%", percent-encoded (UTF-8). */
function percentEncode(s: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(s)) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
