// Services and their subsets → the pool specifications the upstream pools run (upstream/pool/),
// keyed `service` or `service/subset`. Durations are already milliseconds in the config model;
// the defaults of a section that was written are Istio's (filled by config/traffic-policy.ts),
// those of a section that was not are the engine's own (upstream/pool/types.ts, Istio's too).

import type { Config, ServiceConfig, TrafficPolicyConfig } from "../config/model.ts";
import {
  type ConnectionPoolSpec,
  connectionPool,
  type EndpointSpec,
  type HealthCheckSpec,
  healthCheck,
  type LoadBalancerSpec,
  outlierDetection,
  type PoolSpec,
  poolSpec,
  selectEndpoints,
} from "../upstream/pool/types.ts";
import type { UpstreamTls } from "../upstream/types.ts";
import type { PoolPlan } from "./plan.ts";

/** The registry key of a service's pool, or of one of its subsets. */
export function poolKey(service: string, subset?: string): string {
  return subset === undefined ? service : `${service}/${subset}`;
}

/**
 * True when the service is one URL with no policy: the proxy then sends to that URL directly,
 * without admitting, picking or counting (as fast as before pools); its pool only lists it.
 */
export function isDirect(s: ServiceConfig): boolean {
  return s.endpoints === undefined && s.trafficPolicy === undefined && s.subsets === undefined;
}

/** Every service's pool, and every subset's. `tls`: the provisioned upstream TLS, by pool key. */
export function compilePools(config: Config, tls: ReadonlyMap<string, UpstreamTls>): Map<string, PoolPlan> {
  const out = new Map<string, PoolPlan>();
  for (const s of config.services.values()) {
    const endpoints: EndpointSpec[] = s.endpoints
      ? s.endpoints.map((e) => ({ address: e.address, port: e.port, weight: e.weight, labels: e.labels }))
      : // One URL: its host and port, resolved by the OS when it is a name (the model's reading).
        [{ address: s.host, port: s.port, weight: 1, labels: {} }];
    const direct = isDirect(s);
    const add = (key: string, eps: EndpointSpec[], policy: TrafficPolicyConfig | undefined) => {
      const t = tls.get(key);
      const scheme = schemeOf(s, t);
      const spec = poolSpec({
        service: key,
        resolution: s.resolution ?? "STATIC",
        endpoints: eps,
        ...poolPolicy(policy, s.trafficPolicy?.healthCheck, scheme, s, t),
      });
      out.set(key, { spec, scheme, direct });
    };
    add(s.name, endpoints, s.trafficPolicy);
    for (const sub of s.subsets ?? [])
      add(poolKey(s.name, sub.name), selectEndpoints(endpoints, sub.labels), sub.trafficPolicy);
  }
  return out;
}

/** What to speak to every endpoint: https when TLS is originated, else the URL's scheme. */
function schemeOf(s: ServiceConfig, tls: UpstreamTls | undefined): "http" | "https" {
  if (tls !== undefined) return "https";
  return s.url.startsWith("https:") && s.tls?.mode !== "DISABLE" ? "https" : "http";
}

function poolPolicy(
  p: TrafficPolicyConfig | undefined,
  check: TrafficPolicyConfig["healthCheck"],
  scheme: "http" | "https",
  s: ServiceConfig,
  tls: UpstreamTls | undefined,
): Partial<PoolSpec> {
  const out: Partial<PoolSpec> = {};
  const lb = p?.loadBalancer && loadBalancer(p.loadBalancer);
  if (lb) out.loadBalancer = lb;
  if (p?.connectionPool) out.connectionPool = pool(p.connectionPool);
  const od = p?.outlierDetection;
  if (od) out.outlierDetection = outlierDetection(defined(od));
  if (check) out.healthCheck = healthCheckSpec(check, scheme, s, tls);
  return out;
}

function loadBalancer(lb: NonNullable<TrafficPolicyConfig["loadBalancer"]>): LoadBalancerSpec {
  if ("simple" in lb) return { kind: lb.simple };
  const { key, table } = lb.consistentHash;
  // One hash for both of Istio's tables: a ring (Envoy's RING_HASH); a maglev table size is read as
  // the ring's minimum size, the closest equivalent (both bound how evenly keys spread).
  const minimumRingSize =
    table === undefined ? undefined : table.kind === "ringHash" ? table.minimumRingSize : table.tableSize;
  const hashKey =
    key.kind === "header"
      ? { header: key.name }
      : key.kind === "sourceIp"
        ? { sourceIp: true as const }
        : key.kind === "queryParameter"
          ? { queryParameter: key.name }
          : { cookie: { name: key.name, ...defined({ path: key.path, ttlMs: key.ttlMs }) } };
  return { kind: "CONSISTENT_HASH", key: hashKey, ...defined({ minimumRingSize }) };
}

function pool(c: NonNullable<TrafficPolicyConfig["connectionPool"]>): ConnectionPoolSpec {
  const given: Partial<ConnectionPoolSpec> = defined({
    maxConnections: c.tcp?.maxConnections,
    connectTimeoutMs: c.tcp?.connectTimeoutMs,
    tcpKeepalive: c.tcp?.tcpKeepalive,
    http1MaxPendingRequests: c.http?.http1MaxPendingRequests,
    http2MaxRequests: c.http?.http2MaxRequests,
    maxRequestsPerConnection: c.http?.maxRequestsPerConnection,
    maxRetries: c.http?.maxRetries,
    idleTimeoutMs: c.http?.idleTimeoutMs,
  });
  return connectionPool(given);
}

function healthCheckSpec(
  c: NonNullable<TrafficPolicyConfig["healthCheck"]>,
  scheme: "http" | "https",
  s: ServiceConfig,
  tls: UpstreamTls | undefined,
): HealthCheckSpec {
  return healthCheck({
    kind: c.check.kind,
    ...(c.check.kind === "http" ? { path: c.check.path, ...defined({ host: c.check.host ?? s.host }) } : {}),
    scheme,
    // Over https the checks trust what the service's traffic trusts (pool.ts's note).
    ...(scheme === "https"
      ? {
          tls: defined({
            ca: tls?.ca,
            servername: tls?.serverName,
            insecureSkipVerify: tls?.insecureSkipVerify,
          }),
        }
      : {}),
    intervalMs: c.intervalMs,
    timeoutMs: c.timeoutMs,
    healthyThreshold: c.healthyThreshold,
    unhealthyThreshold: c.unhealthyThreshold,
  });
}

/** The object without its undefined fields, so the engine's defaults fill them. */
function defined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
