// Connection and request limits of HTTP(S) and TCP listeners: the `limits:` block of routes.yaml
// `settings` and of each listener (a listener's fields override settings' field by field), their
// defaults, and the resolved numbers provisioning hands to the adapters. Istio has no field for
// any of these on a Gateway or in MeshConfig (Envoy sets them in its HttpConnectionManager and
// listener, which Istio only reaches through EnvoyFilter), so Istio listeners get settings' values.
//
// Defaults follow Envoy's "edge proxy best practices"
// (https://www.envoyproxy.io/docs/envoy/latest/configuration/best_practices/edge) where it gives
// one, Envoy's own default otherwise:
// - maxRequestHeadersKb 60: HttpConnectionManager.max_request_headers_kb default.
// - maxRequestHeaders 100: HttpProtocolOptions.max_headers_count default.
// - maxRequestBodyBytes none: Envoy's HCM has no body limit (only the buffer filter, which is
//   opt-in), nor have Caddy or Traefik; a proxy streams bodies (gRPC client streams, uploads)
//   whose size it cannot know. nginx's client_max_body_size 1m is a web server's default.
// - requestHeadersTimeout 10s: the edge page's request_headers_timeout.
// - idleTimeout 5m: Envoy's stream_idle_timeout (and the edge page's value for it); Portico's
//   node servers used 5 min already. Bun.serve allows at most 255 s, and closes sooner.
// - maxConnections none: Envoy has no per-listener cap by default (the edge page's cap is the
//   overload manager's global one).
// - maxConcurrentStreams 100: the edge page's http2_protocol_options.max_concurrent_streams.
// - maxRequestsPerConnection none: HttpProtocolOptions.max_requests_per_connection default.

import * as v from "valibot";
import { parseDuration } from "./duration.ts";
import { duration, integer, mapping } from "./schema-kit.ts";

/** The `limits:` block as written (settings or listener): absent fields take the next level's. */
export interface LimitsConfig {
  maxRequestHeadersKb?: number;
  maxRequestHeaders?: number;
  /** 0: no limit. */
  maxRequestBodyBytes?: number;
  /** 0: no timeout. */
  requestHeadersTimeoutMs?: number;
  /** 0: no timeout. */
  idleTimeoutMs?: number;
  /** 0: no limit. */
  maxConnections?: number;
  maxConcurrentStreams?: number;
  /** 0: no limit. */
  maxRequestsPerConnection?: number;
}

/**
 * A listener's limits as the adapters apply them: plain numbers, `undefined` where there is no
 * limit (so the request path does nothing for a limit that is off).
 */
export interface ListenerLimits {
  maxRequestHeadersKb: number;
  maxRequestHeaders: number;
  maxRequestBodyBytes: number | undefined;
  requestHeadersTimeoutMs: number | undefined;
  idleTimeoutMs: number | undefined;
  maxConnections: number | undefined;
  maxConcurrentStreams: number;
  maxRequestsPerConnection: number | undefined;
}

export const DEFAULT_LIMITS: ListenerLimits = {
  maxRequestHeadersKb: 60,
  maxRequestHeaders: 100,
  maxRequestBodyBytes: undefined,
  requestHeadersTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxConnections: undefined,
  maxConcurrentStreams: 100,
  maxRequestsPerConnection: undefined,
};

// 2^31-1: RFC 9113's SETTINGS_MAX_CONCURRENT_STREAMS range as Node takes it, and a bound for counts.
const INT31 = 2 ** 31 - 1;

/** The fields of `limits:`, each with a readable "expected ..." message. */
const LIMIT_FIELDS = {
  // Envoy's max_request_headers_kb is capped at 8192 (8 MiB).
  maxRequestHeadersKb: v.optional(integer("an integer 1..8192 (KiB)", 1, 8192)),
  maxRequestHeaders: v.optional(integer("an integer 1..10000", 1, 10_000)),
  maxRequestBodyBytes: v.optional(
    integer("an integer number of bytes, 0 for no limit", 0, Number.MAX_SAFE_INTEGER),
  ),
  requestHeadersTimeout: v.optional(duration),
  idleTimeout: v.optional(duration),
  maxConnections: v.optional(integer("an integer 0..1000000, 0 for no limit", 0, 1_000_000)),
  maxConcurrentStreams: v.optional(integer("an integer 1..2147483647", 1, INT31)),
  maxRequestsPerConnection: v.optional(integer("an integer, 0 for no limit", 0, INT31)),
};

export const LimitsSchema = mapping(
  "a mapping of limits (maxRequestHeadersKb, maxRequestHeaders, maxRequestBodyBytes, " +
    "requestHeadersTimeout, idleTimeout, maxConnections, maxConcurrentStreams, maxRequestsPerConnection)",
  LIMIT_FIELDS,
);

/** The limits that mean something on a TCP or TLS-passthrough listener (no HTTP inside). */
export const STREAM_LIMITS = ["maxConnections", "idleTimeout"] as const;

export type RawLimits = v.InferOutput<typeof LimitsSchema>;

/** The written block as plain data (durations in milliseconds). */
export function limitsConfig(raw: RawLimits): LimitsConfig {
  const out: LimitsConfig = {};
  const copy = ["maxRequestHeadersKb", "maxRequestHeaders", "maxRequestBodyBytes", "maxConnections"] as const;
  for (const k of copy) if (raw[k] !== undefined) out[k] = raw[k] as number;
  if (raw.maxConcurrentStreams !== undefined) out.maxConcurrentStreams = raw.maxConcurrentStreams;
  if (raw.maxRequestsPerConnection !== undefined) out.maxRequestsPerConnection = raw.maxRequestsPerConnection;
  if (raw.requestHeadersTimeout !== undefined)
    out.requestHeadersTimeoutMs = parseDuration(raw.requestHeadersTimeout)!;
  if (raw.idleTimeout !== undefined) out.idleTimeoutMs = parseDuration(raw.idleTimeout)!;
  return out;
}

/** A listener's limits: its own fields, then settings', then the defaults; 0 turns a limit off. */
export function resolveLimits(listener?: LimitsConfig, settings?: LimitsConfig): ListenerLimits {
  const pick = <K extends keyof LimitsConfig & keyof ListenerLimits>(k: K) =>
    listener?.[k] ?? settings?.[k] ?? DEFAULT_LIMITS[k];
  const off = (n: number | undefined) => (n === 0 ? undefined : n);
  return {
    maxRequestHeadersKb: pick("maxRequestHeadersKb")!,
    maxRequestHeaders: pick("maxRequestHeaders")!,
    maxRequestBodyBytes: off(pick("maxRequestBodyBytes")),
    requestHeadersTimeoutMs: off(pick("requestHeadersTimeoutMs")),
    idleTimeoutMs: off(pick("idleTimeoutMs")),
    maxConnections: off(pick("maxConnections")),
    maxConcurrentStreams: pick("maxConcurrentStreams")!,
    maxRequestsPerConnection: off(pick("maxRequestsPerConnection")),
  };
}

/** What a TCP or passthrough listener limits: its connections, and how long one may stay silent. */
export interface StreamLimits {
  maxConnections: number | undefined;
  idleTimeoutMs: number | undefined;
}

/**
 * A TCP listener's idle timeout is its own (default: Envoy tcp_proxy's 1 h idle_timeout), never
 * settings': an HTTP keep-alive value there would cut long-lived database connections.
 * maxConnections falls back to settings' as for HTTP listeners.
 */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 3_600_000;

export function resolveStreamLimits(listener?: LimitsConfig, settings?: LimitsConfig): StreamLimits {
  const idle = listener?.idleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
  const max = listener?.maxConnections ?? settings?.maxConnections;
  return { maxConnections: max || undefined, idleTimeoutMs: idle || undefined };
}
