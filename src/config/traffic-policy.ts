// Istio's TrafficPolicy sections (loadBalancer, connectionPool, outlierDetection) as valibot
// schemas and builders into pool-model.ts, shared by DestinationRule documents and routes.yaml
// services so both accept the same fields with the same messages; plus Portico's own
// healthCheck (routes.yaml only) and the merge of a subset's policy over its service's.
// Field reference and defaults:
// https://istio.io/latest/docs/reference/config/networking/destination-rule/#TrafficPolicy

import * as v from "valibot";
import { parseDuration } from "./duration.ts";
import type {
  ConnectionPoolConfig,
  HashKey,
  HealthCheckConfig,
  LoadBalancerConfig,
  OutlierDetectionConfig,
  TrafficPolicyConfig,
} from "./pool-model.ts";
import type { Reporter } from "./report.ts";
import {
  boolean,
  checked,
  describeValue,
  duration,
  integer,
  mapping,
  oneOf,
  positiveDuration,
  rule,
  text,
} from "./schema-kit.ts";
import type { FieldPath } from "./yaml-locate.ts";

/** Istio's int32 and uint32 counts; 0 is proto3's "unset". */
const count = integer("an integer >= 0", 0, 2 ** 31 - 1);
const percent = integer("an integer 0..100", 0, 100);

// Envoy: Maglev's table size must be prime (default 65537, at most 5000011).
const TABLE_SIZE = "a prime number up to 5000011, such as 65537";
const tableSize = v.pipe(
  integer(TABLE_SIZE, 2, 5_000_011),
  v.check(isPrime, (issue) => `expected ${TABLE_SIZE}, got ${describeValue(issue.input)}`),
);
function isPrime(n: number): boolean {
  // Called even when the integer check before it failed: Infinity would loop for ever.
  if (!Number.isInteger(n) || n < 2 || n > 5_000_011) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
// Envoy's RingHash: minimum_ring_size at most 8M.
const ringSize = integer("an integer 1..8388608", 1, 8_388_608);

const HASH_KEYS = ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"] as const;

// https://istio.io/latest/docs/reference/config/networking/destination-rule/
// #LoadBalancerSettings-ConsistentHashLB
const ConsistentHashSchema = v.pipe(
  mapping("a mapping with one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName", {
    httpHeaderName: v.optional(text("a header name", 1)),
    httpCookie: v.optional(
      mapping("a mapping with name and optional path and ttl", {
        name: text("a cookie name", 1),
        path: v.optional(text("a cookie path")),
        ttl: v.optional(duration),
      }),
    ),
    useSourceIp: v.optional(boolean()),
    httpQueryParameterName: v.optional(text("a query parameter name", 1)),
    ringHash: v.optional(
      mapping("a mapping with minimumRingSize", { minimumRingSize: v.optional(ringSize) }),
    ),
    maglev: v.optional(mapping("a mapping with tableSize", { tableSize: v.optional(tableSize) })),
    // Deprecated in Istio for ringHash.minimumRingSize; read as that.
    minimumRingSize: v.optional(ringSize),
  }),
  rule((c, add) => {
    const keys = HASH_KEYS.filter((k) => k in c && c[k] !== false);
    if (keys.length !== 1) {
      const got = keys.length === 0 ? "none" : keys.join(" and ");
      add([], `expected exactly one of ${HASH_KEYS.join(", ")}, got ${got}`);
    }
    if ("ringHash" in c && "maglev" in c) add(["maglev"], "expected one of ringHash or maglev, got both");
    if ("minimumRingSize" in c && ("ringHash" in c || "maglev" in c))
      add(
        ["minimumRingSize"],
        "deprecated in Istio and set with ringHash or maglev; use ringHash.minimumRingSize",
      );
  }),
);

const SIMPLE = [
  "UNSPECIFIED",
  "RANDOM",
  "PASSTHROUGH",
  "ROUND_ROBIN",
  "LEAST_REQUEST",
  "LEAST_CONN",
] as const;

// https://istio.io/latest/docs/reference/config/networking/destination-rule/#LoadBalancerSettings
export const LoadBalancerSchema = v.pipe(
  mapping(
    "a mapping with simple or consistentHash",
    { simple: v.optional(oneOf(SIMPLE)), consistentHash: v.optional(ConsistentHashSchema) },
    {
      localityLbSetting: "Portico has no localities: every endpoint is in one place",
      warmupDurationSecs: "slow start of new endpoints is not supported by Portico",
      warmup: "slow start of new endpoints is not supported by Portico",
    },
  ),
  rule((lb, add) => {
    // Istio's lb_policy is a oneof: a policy and a hash cannot both apply.
    if ("simple" in lb && "consistentHash" in lb)
      add([], "expected one of simple or consistentHash, got both");
    if (lb.simple === "PASSTHROUGH")
      add(
        ["simple"],
        "PASSTHROUGH is not supported by Portico: it sends each request to the address the client " +
          "connected to (the original destination), which a gateway outside a mesh does not have",
      );
  }),
);

// https://istio.io/latest/docs/reference/config/networking/destination-rule/#ConnectionPoolSettings
export const ConnectionPoolSchema = mapping("a mapping with tcp and/or http", {
  tcp: v.optional(
    mapping(
      "a mapping with maxConnections, connectTimeout and tcpKeepalive",
      {
        maxConnections: v.optional(count),
        connectTimeout: v.optional(positiveDuration),
        tcpKeepalive: v.optional(
          mapping("a mapping with probes, time and interval", {
            probes: v.optional(count),
            time: v.optional(positiveDuration),
            interval: v.optional(positiveDuration),
          }),
        ),
      },
      {
        maxConnectionDuration: "Portico does not close upstream connections by age",
        idleTimeout: "use http.idleTimeout: Portico's pools hold HTTP connections",
      },
    ),
  ),
  http: v.optional(
    v.pipe(
      mapping(
        "a mapping with http1MaxPendingRequests, http2MaxRequests, maxRequestsPerConnection, " +
          "maxRetries and idleTimeout",
        {
          http1MaxPendingRequests: v.optional(count),
          http2MaxRequests: v.optional(count),
          maxRequestsPerConnection: v.optional(count),
          maxRetries: v.optional(count),
          idleTimeout: v.optional(positiveDuration),
          h2UpgradePolicy: v.optional(oneOf(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] as const)),
        },
        {
          useClientProtocol: "Portico speaks to a service the protocol the service names",
          maxConcurrentStreams: "not supported by Portico",
        },
      ),
      rule((h, add) => {
        if (h.h2UpgradePolicy === "UPGRADE")
          add(
            ["h2UpgradePolicy"],
            "UPGRADE is not supported by Portico: a service speaks HTTP/2 when the service says so " +
              "(protocol HTTP2), not by upgrading HTTP/1.1 connections",
          );
      }),
    ),
  ),
});

// https://istio.io/latest/docs/reference/config/networking/destination-rule/#OutlierDetection
export const OutlierDetectionSchema = mapping(
  "a mapping with consecutive5xxErrors, interval, baseEjectionTime, maxEjectionPercent, ...",
  {
    splitExternalLocalOriginErrors: v.optional(boolean()),
    consecutiveLocalOriginFailures: v.optional(count),
    consecutiveGatewayErrors: v.optional(count),
    consecutive5xxErrors: v.optional(count),
    interval: v.optional(positiveDuration),
    baseEjectionTime: v.optional(positiveDuration),
    maxEjectionPercent: v.optional(percent),
    minHealthPercent: v.optional(percent),
  },
  { consecutiveErrors: "deprecated in Istio; use consecutive5xxErrors or consecutiveGatewayErrors" },
);

// Portico's addition (like Caddy's health_uri, Traefik's healthCheck); the defaults are
// Kubernetes probes' (periodSeconds 10, timeoutSeconds 1, successThreshold 1, failureThreshold 3).
export const HealthCheckSchema = v.pipe(
  mapping("a mapping with http or tcp, and optional interval, timeout and thresholds", {
    http: v.optional(
      mapping("a mapping with path and optional host", {
        path: checked('a path starting with "/"', (p) =>
          p.startsWith("/") ? undefined : `expected a path starting with "/", got ${describeValue(p)}`,
        ),
        host: v.optional(text("the Host header to send", 1)),
      }),
    ),
    tcp: v.optional(mapping("an empty mapping: {}", {})),
    interval: v.optional(positiveDuration),
    timeout: v.optional(positiveDuration),
    healthyThreshold: v.optional(integer("an integer 1..1000", 1, 1_000)),
    unhealthyThreshold: v.optional(integer("an integer 1..1000", 1, 1_000)),
  }),
  rule((h, add) => {
    if ("http" in h === "tcp" in h)
      add([], `expected exactly one of http or tcp, got ${"http" in h ? "both" : "none"}`);
    const interval = typeof h.interval === "string" ? parseDuration(h.interval) : 10_000;
    const timeout = typeof h.timeout === "string" ? parseDuration(h.timeout) : 1_000;
    if (interval !== undefined && timeout !== undefined && timeout > interval)
      add(["timeout"], "a check's timeout must not be longer than its interval");
  }),
);

type RawLoadBalancer = v.InferOutput<typeof LoadBalancerSchema>;
type RawConnectionPool = v.InferOutput<typeof ConnectionPoolSchema>;
type RawOutlierDetection = v.InferOutput<typeof OutlierDetectionSchema>;
type RawHealthCheck = v.InferOutput<typeof HealthCheckSchema>;

/** The policy sections any trafficPolicy may hold, already checked by the schemas above. */
export interface RawPolicySections {
  loadBalancer?: RawLoadBalancer;
  connectionPool?: RawConnectionPool;
  outlierDetection?: RawOutlierDetection;
  healthCheck?: RawHealthCheck;
}

/** The sections written at `at` (each under its own field name) → the model; no `tls`. */
export function buildPolicySections(
  raw: RawPolicySections,
  at: FieldPath,
  ctx: Reporter,
): TrafficPolicyConfig | undefined {
  const out: TrafficPolicyConfig = {};
  const lb = raw.loadBalancer && buildLoadBalancer(raw.loadBalancer, [...at, "loadBalancer"], ctx);
  if (lb) out.loadBalancer = lb;
  const pool = raw.connectionPool && buildConnectionPool(raw.connectionPool);
  if (pool) out.connectionPool = pool;
  const keepalive = raw.connectionPool?.tcp?.tcpKeepalive;
  for (const field of ["probes", "interval"] as const) {
    if (keepalive?.[field] === undefined) continue;
    // No runtime lets JavaScript set TCP_KEEPCNT or TCP_KEEPINTVL; saying so beats ignoring it.
    const where = [...at, "connectionPool", "tcp", "tcpKeepalive", field];
    ctx.report(where, `not applied: the system's value is used (only time can be set)`, "warning");
  }
  if (raw.outlierDetection)
    out.outlierDetection = buildOutlierDetection(raw.outlierDetection, [...at, "outlierDetection"], ctx);
  if (raw.healthCheck) out.healthCheck = buildHealthCheck(raw.healthCheck);
  return Object.keys(out).length > 0 ? out : undefined;
}

function buildLoadBalancer(
  raw: RawLoadBalancer,
  at: FieldPath,
  ctx: Reporter,
): LoadBalancerConfig | undefined {
  if (raw.consistentHash) {
    const c = raw.consistentHash;
    let key: HashKey;
    if (c.httpHeaderName !== undefined) key = { kind: "header", name: c.httpHeaderName.toLowerCase() };
    else if (c.httpCookie !== undefined) {
      const { name, path, ttl } = c.httpCookie;
      key = {
        kind: "cookie",
        name,
        ...(path === undefined ? {} : { path }),
        ...(ttl === undefined ? {} : { ttlMs: parseDuration(ttl)! }),
      };
    } else if (c.useSourceIp) key = { kind: "sourceIp" };
    else key = { kind: "queryParameter", name: c.httpQueryParameterName! };
    const ring = c.ringHash?.minimumRingSize ?? c.minimumRingSize;
    if (c.maglev)
      return { consistentHash: { key, table: { kind: "maglev", tableSize: c.maglev.tableSize ?? 65_537 } } };
    if (c.ringHash || ring !== undefined)
      return { consistentHash: { key, table: { kind: "ringHash", minimumRingSize: ring ?? 1_024 } } };
    return { consistentHash: { key } };
  }
  if (raw.simple === undefined || raw.simple === "UNSPECIFIED" || raw.simple === "PASSTHROUGH")
    return undefined;
  if (raw.simple === "LEAST_CONN") {
    ctx.report([...at, "simple"], "LEAST_CONN is deprecated in Istio; read as LEAST_REQUEST", "warning");
    return { simple: "LEAST_REQUEST" };
  }
  return { simple: raw.simple };
}

const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d)!);

/** Only what was written, 0 left out (Istio reads 0 as unset). */
function buildConnectionPool(raw: RawConnectionPool): ConnectionPoolConfig | undefined {
  const out: ConnectionPoolConfig = {};
  const tcp = raw.tcp && {
    ...positive("maxConnections", raw.tcp.maxConnections),
    ...defined("connectTimeoutMs", ms(raw.tcp.connectTimeout)),
    ...(raw.tcp.tcpKeepalive === undefined
      ? {}
      : {
          tcpKeepalive: {
            ...positive("probes", raw.tcp.tcpKeepalive.probes),
            ...defined("timeMs", ms(raw.tcp.tcpKeepalive.time)),
            ...defined("intervalMs", ms(raw.tcp.tcpKeepalive.interval)),
          },
        }),
  };
  if (tcp && Object.keys(tcp).length > 0) out.tcp = tcp;
  const h = raw.http;
  const http = h && {
    ...positive("http1MaxPendingRequests", h.http1MaxPendingRequests),
    ...positive("http2MaxRequests", h.http2MaxRequests),
    ...positive("maxRequestsPerConnection", h.maxRequestsPerConnection),
    ...positive("maxRetries", h.maxRetries),
    ...defined("idleTimeoutMs", ms(h.idleTimeout)),
  };
  if (http && Object.keys(http).length > 0) out.http = http;
  return out.tcp || out.http ? out : undefined;
}

function positive<K extends string>(key: K, n: number | undefined): { [P in K]?: number } {
  return (n === undefined || n === 0 ? {} : { [key]: n }) as { [P in K]?: number };
}
function defined<K extends string>(key: K, n: number | undefined): { [P in K]?: number } {
  return (n === undefined ? {} : { [key]: n }) as { [P in K]?: number };
}

// Istio's documented defaults for a written outlierDetection.
function buildOutlierDetection(
  raw: RawOutlierDetection,
  at: FieldPath,
  ctx: Reporter,
): OutlierDetectionConfig {
  const split = raw.splitExternalLocalOriginErrors ?? false;
  if (!split && raw.consecutiveLocalOriginFailures !== undefined)
    ctx.report(
      [...at, "consecutiveLocalOriginFailures"],
      "has no effect unless splitExternalLocalOriginErrors is true (Istio); connect failures count as 5xx",
      "warning",
    );
  return {
    consecutive5xxErrors: raw.consecutive5xxErrors ?? 5,
    consecutiveGatewayErrors: raw.consecutiveGatewayErrors ?? 0,
    splitExternalLocalOriginErrors: split,
    ...(split ? { consecutiveLocalOriginFailures: raw.consecutiveLocalOriginFailures ?? 5 } : {}),
    intervalMs: ms(raw.interval) ?? 10_000,
    baseEjectionTimeMs: ms(raw.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: raw.maxEjectionPercent ?? 10,
    minHealthPercent: raw.minHealthPercent ?? 0,
  };
}

function buildHealthCheck(raw: RawHealthCheck): HealthCheckConfig {
  const check: HealthCheckConfig["check"] = raw.http
    ? { kind: "http", path: raw.http.path, ...(raw.http.host === undefined ? {} : { host: raw.http.host }) }
    : { kind: "tcp" };
  return {
    check,
    intervalMs: ms(raw.interval) ?? 10_000,
    timeoutMs: ms(raw.timeout) ?? 1_000,
    healthyThreshold: raw.healthyThreshold ?? 1,
    unhealthyThreshold: raw.unhealthyThreshold ?? 3,
  };
}

/**
 * A subset's policy over its service's: each section the subset sets replaces the service's
 * whole section (Istio's MergeTrafficPolicy, pilot/pkg/networking/util). Undefined when neither
 * sets anything.
 */
export function mergePolicy(
  service: TrafficPolicyConfig | undefined,
  subset: TrafficPolicyConfig | undefined,
): TrafficPolicyConfig | undefined {
  const merged = { ...service, ...subset };
  return Object.keys(merged).length > 0 ? merged : undefined;
}
