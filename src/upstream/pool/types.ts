// The pool specification: plain data the Plan carries for one service (or one subset of it). It
// knows nothing of YAML; provision fills it from routes.yaml or Istio's DestinationRule and
// ServiceEntry, with the defaults below. Names follow istio/api networking/v1alpha3
// destination_rule.proto and service_entry.proto.

/** One endpoint as configured: an IP address (STATIC) or a name to resolve (DNS). */
export interface EndpointSpec {
  address: string;
  port: number;
  /** Relative share of the traffic, 1 and up (Istio's WorkloadEntry weight; 0 is never chosen). */
  weight: number;
  labels: Readonly<Record<string, string>>;
}

/**
 * Istio's ServiceEntry resolution. STATIC: the addresses as written. DNS: every address of
 * every name is an endpoint (Envoy STRICT_DNS). DNS_ROUND_ROBIN: only the first address of each
 * answer is used (Envoy LOGICAL_DNS). Names are looked up again every `dnsRefreshMs`.
 */
export type Resolution = "STATIC" | "DNS" | "DNS_ROUND_ROBIN";

export type ConsistentHashKey =
  | { header: string }
  | { cookie: { name: string; path?: string; ttlMs?: number } }
  | { sourceIp: true }
  | { queryParameter: string };

/** Istio's LoadBalancerSettings: `simple` or `consistentHash` (always a ring hash here). */
export type LoadBalancerSpec =
  | { kind: "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM" }
  | { kind: "CONSISTENT_HASH"; key: ConsistentHashKey; minimumRingSize?: number };

/** Istio's OutlierDetection, every field filled (see `outlierDetection()` for the defaults). */
export interface OutlierDetectionSpec {
  /** 0 disables. Gateway errors and (without the split) local-origin failures count too. */
  consecutive5xxErrors: number;
  /** 502, 503, 504; 0 disables. */
  consecutiveGatewayErrors: number;
  /**
   * Istio's `splitExternalLocalOriginErrors`: count connect failures, resets before a response
   * and timeouts on their own (consecutiveLocalOriginFailures) instead of as 503/504.
   */
  splitExternalLocalOriginErrors: boolean;
  /** Used only with the split; 0 disables. */
  consecutiveLocalOriginFailures: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  /** Envoy's max_ejection_time (Istio does not expose it): the cap of the multiplied time. */
  maxEjectionTimeMs: number;
  maxEjectionPercent: number;
  /** Envoy's healthy_panic_threshold: below this share of healthy endpoints, use all of them. */
  minHealthPercent: number;
}

/** Portico's active health check (Caddy's `health_uri`, Traefik's healthCheck, Envoy's thresholds). */
export interface HealthCheckSpec {
  kind: "http" | "tcp";
  /** For http: the path requested with GET. */
  path: string;
  scheme: "http" | "https";
  /** Host header; Envoy sends the cluster name when unset, so does Portico (the service name). */
  host?: string;
  /** For https: the trust anchors (PEM; the system's when unset), SNI, and whether to skip checks. */
  tls?: { ca?: string; servername?: string; insecureSkipVerify?: boolean };
  /** Statuses that pass, as inclusive ranges; default [[200, 399]]. */
  expectedStatuses: ReadonlyArray<readonly [number, number]>;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** Istio's ConnectionPoolSettings with Istio's own defaults (see `connectionPool()`). */
export interface ConnectionPoolSpec {
  maxConnections: number;
  connectTimeoutMs: number;
  http1MaxPendingRequests: number;
  http2MaxRequests: number;
  /** 0: unlimited. Applied by the client, carried here for it. */
  maxRequestsPerConnection: number;
  maxRetries: number;
  idleTimeoutMs: number;
  /** Istio's tcp.tcpKeepalive, for the client; unset: the system's settings. */
  tcpKeepalive?: { probes?: number; timeMs?: number; intervalMs?: number };
}

export interface PoolSpec {
  /** The service (or `service/subset`), for messages and the admin listing. */
  service: string;
  resolution: Resolution;
  endpoints: readonly EndpointSpec[];
  /** How often DNS names are looked up again (Envoy's dns_refresh_rate, default 5 s). */
  dnsRefreshMs: number;
  loadBalancer: LoadBalancerSpec;
  outlierDetection?: OutlierDetectionSpec;
  healthCheck?: HealthCheckSpec;
  connectionPool: ConnectionPoolSpec;
}

/** 2^32-1: what Istio writes for every unset circuit-breaker threshold. */
export const UNLIMITED = 4_294_967_295;

/**
 * An outlierDetection block with Istio's defaults for what it leaves out: consecutive5xxErrors
 * 5 (Envoy's default, enforced), consecutiveGatewayErrors 0 (Envoy enforces 0%),
 * consecutiveLocalOriginFailures 5 when split, interval 10 s, baseEjectionTime 30 s,
 * maxEjectionPercent 10, minHealthPercent 0 (Istio writes healthy_panic_threshold 0: panic off).
 * Source: istio/istio pilot/pkg/networking/core/cluster_traffic_policy.go applyOutlierDetection
 * and Envoy's outlier_detection.proto (max_ejection_time 300 s).
 */
export function outlierDetection(given: Partial<OutlierDetectionSpec> = {}): OutlierDetectionSpec {
  return {
    consecutive5xxErrors: 5,
    consecutiveGatewayErrors: 0,
    splitExternalLocalOriginErrors: false,
    consecutiveLocalOriginFailures: 5,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000,
    maxEjectionPercent: 10,
    minHealthPercent: 0,
    ...given,
  };
}

/**
 * Connection pool settings with Istio's defaults: every circuit-breaker threshold 2^32-1
 * (getDefaultCircuitBreakerThresholds, replacing Envoy's 1024/1024/1024/3), connectTimeout
 * 10 s (MeshConfig.connectTimeout), idleTimeout 1 h (Envoy's), maxRequestsPerConnection 0.
 */
export function connectionPool(given: Partial<ConnectionPoolSpec> = {}): ConnectionPoolSpec {
  return {
    maxConnections: UNLIMITED,
    connectTimeoutMs: 10_000,
    http1MaxPendingRequests: UNLIMITED,
    http2MaxRequests: UNLIMITED,
    maxRequestsPerConnection: 0,
    maxRetries: UNLIMITED,
    idleTimeoutMs: 3_600_000,
    ...given,
  };
}

/** A health check with Portico's defaults: GET over http, 200-399, every 10 s, 5 s timeout, 2/3. */
export function healthCheck(given: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return {
    kind: "http",
    path: "/",
    scheme: "http",
    expectedStatuses: [[200, 399]],
    intervalMs: 10_000,
    timeoutMs: 5_000,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    ...given,
  };
}

/** A pool specification with defaults for everything but the service and its endpoints. */
export function poolSpec(given: Partial<PoolSpec> & Pick<PoolSpec, "service" | "endpoints">): PoolSpec {
  return {
    resolution: "STATIC",
    dnsRefreshMs: 5_000,
    // Istio's default when no loadBalancer is given (defaultLBAlgorithm in cluster_traffic_policy.go).
    loadBalancer: { kind: "LEAST_REQUEST" },
    connectionPool: connectionPool(),
    ...given,
  };
}

/**
 * The endpoints a subset selects: those carrying every one of `labels` (Istio's subset labels,
 * a conjunction, as a Kubernetes label selector). No labels select all endpoints.
 */
export function selectEndpoints<E extends { labels: Readonly<Record<string, string>> }>(
  endpoints: readonly E[],
  labels: Readonly<Record<string, string>>,
): E[] {
  const wanted = Object.entries(labels);
  return endpoints.filter((e) => wanted.every(([k, v]) => e.labels[k] === v));
}
