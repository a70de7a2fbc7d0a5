// The validated form of a service's endpoints and traffic policy, plain data: built by
// traffic-policy.ts from routes.yaml `services` and Istio's DestinationRule `trafficPolicy`, and
// by istio/service-entry.ts from ServiceEntry and WorkloadEntry documents. Re-exported by
// model.ts. Field names and meanings are Istio's, so one model serves both ways in:
// https://istio.io/latest/docs/reference/config/networking/destination-rule/
// https://istio.io/latest/docs/reference/config/networking/service-entry/
// Durations are milliseconds. A section that was not written is absent; inside a written section
// the defaults Istio documents are filled in.

import type { Source } from "../util/errors.ts";

/** One place to send requests: a ServiceEntry endpoint, a WorkloadEntry or a routes.yaml endpoint. */
export interface EndpointConfig {
  /** An IP address (STATIC), or a host name to resolve (DNS, DNS_ROUND_ROBIN). */
  address: string;
  /** The port to connect to (the endpoint's own port for the service port, else its targetPort). */
  port: number;
  /** Relative share of the load, at least 1 (Envoy's load_balancing_weight); 1 unless given. */
  weight: number;
  /** What subsets select endpoints by. */
  labels: Record<string, string>;
  source: Source;
}

/**
 * How endpoint addresses become connections (Istio's ServiceEntry.Resolution):
 * - STATIC: the addresses as written (IP addresses).
 * - DNS: every address each name resolves to is an endpoint, re-resolved periodically (Envoy's
 *   STRICT_DNS).
 * - DNS_ROUND_ROBIN: one address of the name at a time, re-resolved for new connections (Envoy's
 *   LOGICAL_DNS); also what a single-URL service with a host name does (the OS resolves it).
 * Istio's NONE (the connection's original destination) is refused: a gateway outside a mesh
 * never has one.
 */
export type Resolution = "STATIC" | "DNS" | "DNS_ROUND_ROBIN";

/** Istio's LoadBalancerSettings.SimpleLB, less PASSTHROUGH (refused) and LEAST_CONN (an alias). */
export type SimpleLb = "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM";

/** What a consistent hash is computed from: exactly one, as Istio's oneof. */
export type HashKey =
  | { kind: "header"; name: string }
  /** `ttlMs` absent: Envoy never sets the cookie; 0: a session cookie. */
  | { kind: "cookie"; name: string; path?: string; ttlMs?: number }
  | { kind: "sourceIp" }
  | { kind: "queryParameter"; name: string };

export interface ConsistentHashConfig {
  key: HashKey;
  /**
   * The hash's table: Istio's `ringHash.minimumRingSize` (or the deprecated `minimumRingSize`) or
   * `maglev.tableSize`; absent: not written (the engine picks its own and says which).
   */
  table?: { kind: "ringHash"; minimumRingSize: number } | { kind: "maglev"; tableSize: number };
}

/** Exactly one of `simple` and `consistentHash` (Istio's oneof `lb_policy`). */
export type LoadBalancerConfig = { simple: SimpleLb } | { consistentHash: ConsistentHashConfig };

/**
 * Istio's ConnectionPoolSettings. Absent fields: no limit (Istio's defaults are 2^32-1, not
 * Envoy's 1024). Istio reads 0 as unset (proto3), so 0 is absent here too.
 */
export interface ConnectionPoolConfig {
  tcp?: {
    maxConnections?: number;
    connectTimeoutMs?: number;
    tcpKeepalive?: { probes?: number; timeMs?: number; intervalMs?: number };
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    /** 1 disables keep-alive. */
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeoutMs?: number;
  };
}

/**
 * Istio's OutlierDetection with its documented defaults filled in. `consecutive5xxErrors` and
 * `consecutiveGatewayErrors` of 0 disable that detection; `consecutiveLocalOriginFailures` is
 * absent unless `splitExternalLocalOriginErrors` is true (then Envoy counts connect failures
 * apart from 5xx; default 5).
 */
export interface OutlierDetectionConfig {
  consecutive5xxErrors: number;
  consecutiveGatewayErrors: number;
  splitExternalLocalOriginErrors: boolean;
  consecutiveLocalOriginFailures?: number;
  intervalMs: number;
  /** Multiplied by the number of times the endpoint was ejected. */
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  /** Below this share of healthy endpoints, outlier detection is off (Envoy's panic mode). */
  minHealthPercent: number;
}

/** Portico's active health checks (routes.yaml only; like Caddy's health_uri, Traefik's healthCheck). */
export interface HealthCheckConfig {
  check: { kind: "http"; path: string; host?: string } | { kind: "tcp" };
  intervalMs: number;
  timeoutMs: number;
  /** Successes in a row that make an unhealthy endpoint healthy again. */
  healthyThreshold: number;
  /** Failures in a row that take an endpoint out. */
  unhealthyThreshold: number;
}

/**
 * Upstream TLS: routes.yaml `services.x.tls` and DestinationRule `trafficPolicy.tls` (Istio's
 * ClientTLSSettings) are this one model. Files are absolute paths (resolved against the config
 * folder); `credential` names an entry of Config.credentials (routes.yaml `credential`, Istio
 * `credentialName` resolved like a Gateway's).
 */
export interface UpstreamTlsConfig {
  /** Istio's mode; absent in the routes.yaml form, where `tls` means SIMPLE (MUTUAL with cert). */
  mode?: "DISABLE" | "SIMPLE" | "MUTUAL";
  ca?: string;
  cert?: string;
  key?: string;
  credential?: string;
  /** SNI and the name verified (Istio's `sni`). */
  serverName?: string;
  /** The upstream certificate must carry one of these SANs. */
  subjectAltNames?: string[];
  insecureSkipVerify?: boolean;
}

/** What a DestinationRule's trafficPolicy (or a routes.yaml service) sets; each section optional. */
export interface TrafficPolicyConfig {
  loadBalancer?: LoadBalancerConfig;
  connectionPool?: ConnectionPoolConfig;
  outlierDetection?: OutlierDetectionConfig;
  /**
   * Only on subsets. The service's own upstream TLS is ServiceConfig.tls (one field for
   * routes.yaml `tls` and DestinationRule `trafficPolicy.tls`).
   */
  tls?: UpstreamTlsConfig;
  /** routes.yaml only. */
  healthCheck?: HealthCheckConfig;
}

export interface SubsetConfig {
  name: string;
  /** An endpoint belongs to the subset when it carries every one of these labels. */
  labels: Record<string, string>;
  /**
   * The effective policy for this subset: the service's, each section the subset sets replacing
   * the service's whole section (Istio's MergeTrafficPolicy). `tls` is set when the subset sets it.
   */
  trafficPolicy?: TrafficPolicyConfig;
  source: Source;
}
