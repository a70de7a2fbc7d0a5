// The provisioned form of an HTTP route: matchers compiled to closures, header operations and
// CORS values precomputed. Re-exported by plan.ts; built by compile-route.ts; read by
// http/serve-route.ts and http/proxy.ts. A route without a feature carries no object for it,
// so the request path pays only for what a route uses.

import type { PoolSpec } from "../upstream/pool/types.ts";
import type { UpstreamProtocol, UpstreamTls } from "../upstream/types.ts";
import type { CertForwardingPlan } from "./cert-forwarding.ts";
import type { ProxyRequest } from "../util/proxy-request.ts";

/** What matchers may look at; one object per request, built once a virtual host is found. */
export interface MatchInput {
  /** The path as sent, without the query. */
  path: string;
  /** The path and query as sent. */
  pathAndQuery: string;
  req: ProxyRequest;
  /** What the client used to reach the listener. */
  scheme: "http" | "https";
  /** Host[:port] as the client sent it. */
  authority: string;
  /** The listener's port (Istio's match.port is the gateway port the request arrived on). */
  port: number;
  /** The query, parsed on first use by a queryParams condition. */
  query?: URLSearchParams;
  /** What upstreams may learn of the client certificate on this listener (and TLS server). */
  clientCerts: CertForwardingPlan;
  /** What the listener believes of the client's forwarding headers (http/forwarded.ts). */
  trust: ForwardTrust;
}

/** How much of what a client sends about itself a listener believes (http/forwarded.ts). */
export interface ForwardTrust {
  /** Proxies in front of the listener that append to x-forwarded-for; 0: trust no client value. */
  numTrustedProxies: number;
  /** Keep a client's x-request-id (Envoy's preserve_external_request_id); false: replace it. */
  preserveExternalRequestId: boolean;
}

/** Index of the first match entry the request satisfies, or -1. */
export type RouteMatcher = (m: MatchInput) => number;

/** Applied in Envoy's order: remove, then set (`""` removes), then add. */
export interface HeaderOps {
  remove: string[];
  set: [string, string][];
  add: [string, string][];
}

export interface DirectAction {
  kind: "direct";
  status: number;
  /** null for statuses that have no body (204, 205, 304). */
  body: string | Uint8Array<ArrayBuffer> | null;
  contentType: string;
}

export interface RedirectAction {
  kind: "redirect";
  status: number;
  location: (m: MatchInput) => string;
}

/**
 * A service's (or subset's) pool as the Plan carries it: the engine's spec (`spec.service` is the
 * registry key, `service` or `service/subset`), the scheme spoken to every endpoint, and whether
 * the proxy bypasses it (one URL, no policy: sent to `origin` directly, as before pools).
 */
export interface PoolPlan {
  spec: PoolSpec;
  scheme: "http" | "https";
  direct: boolean;
}

export interface Upstream {
  service: string;
  /** `scheme://host:port` without trailing slash; the request path is appended as is. */
  origin: string;
  weight: number;
  /** TLS settings for an https:// service; one client (pool) per service is built from it. */
  tls?: UpstreamTls;
  /** HTTP/2 to this service (h2c or h2), or "auto" by ALPN (h2 or http/1.1); absent: HTTP/1.1. */
  protocol?: UpstreamProtocol;
  /**
   * The pool to pick an endpoint from for each try (then `origin` is not used); absent for a
   * direct service (PoolPlan.direct).
   */
  pool?: PoolPlan;
  /** Header operations of this destination (Istio's HTTPRouteDestination.headers). */
  requestOps?: HeaderOps;
  responseOps?: HeaderOps;
}

/** Envoy's retry conditions, compiled (x-envoy-retry-on). */
export interface RetryPlan {
  /** Retries after the first try. */
  attempts: number;
  /** 0: no per-try limit; tries share the route timeout. */
  perTryTimeoutMs: number;
  on5xx: boolean;
  gatewayError: boolean;
  reset: boolean;
  connectFailure: boolean;
  retriable4xx: boolean;
  refusedStream: boolean;
  rateLimited: boolean;
  /** Response statuses that are retried (retriable-status-codes); empty when that is off. */
  statusCodes: Set<number>;
  /** grpc-status values that are retried (cancelled → "1", unavailable → "14", ...). */
  grpcStatuses: Set<string>;
  /** Istio's retryIgnorePreviousHosts: a retry goes to an endpoint no earlier try used, if any. */
  ignorePreviousHosts: boolean;
}

export interface MirrorPlan {
  upstream: Upstream;
  /** 0..100. */
  percentage: number;
}

export interface ProxyAction {
  kind: "proxy";
  upstreams: Upstream[];
  totalWeight: number;
  /** 0: no timeout. */
  timeoutMs: number;
  /** Upgrade (WebSocket) requests are forwarded; false: refused with 403, as Envoy does. */
  upgrades: boolean;
  /** An upgraded connection with no byte either way for this long is closed (0: never). */
  idleTimeoutMs: number;
  /**
   * The path and query to send, given the index of the match entry that chose the route (-1: no match list).
   */
  rewritePath?: (m: MatchInput, entry: number) => string;
  /** Host sent upstream instead of the client's (rewrite.authority). */
  authority?: string;
  requestOps?: HeaderOps;
  retry?: RetryPlan;
  mirrors?: MirrorPlan[];
}

export type RouteAction = DirectAction | RedirectAction | ProxyAction;

export interface FaultPlan {
  delayMs: number;
  /** 0..100; 0 when there is no delay. */
  delayPercentage: number;
  abortStatus: number;
  /** null for statuses that have no body (204, 205, 304). */
  abortBody: string | null;
  /** 0..100; 0 when there is no abort. */
  abortPercentage: number;
}

/** Envoy's CORS filter for one route, with its header values ready to send. */
export interface CorsPlan {
  allowOrigin: (origin: string) => boolean;
  /** Comma-joined; "" when not configured. */
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  /** Seconds as text; "" when not configured. */
  maxAge: string;
  allowCredentials: boolean;
  /** Preflights from origins that are not allowed go on to the route (Istio's default) or get a bare 200. */
  forwardUnmatchedPreflights: boolean;
}

export interface RoutePlan {
  name: string;
  /** Null matches every request (the route has no match list). */
  match: RouteMatcher | null;
  action: RouteAction;
  cors?: CorsPlan;
  fault?: FaultPlan;
  /** Route-level response header operations, for every response of the route. */
  responseOps?: HeaderOps;
  /** The route's own request body limit, replacing the listener's; 0: none. Absent: the listener's. */
  maxRequestBodyBytes?: number;
}
