// The upstream client contract: a Web-standard exchange, whatever the runtime does inside.

import type { ConnectionPoolSpec } from "./pool/types.ts";

export interface UpstreamRequest {
  url: string;
  method: string;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  signal: AbortSignal;
}

export type UpstreamClient = (req: UpstreamRequest) => Promise<Response>;

/** TLS towards an https:// upstream: PEM text, already read from disk. */
export interface UpstreamTls {
  /** Trust anchors replacing the system store. */
  ca?: string;
  /** Client certificate and key, for upstreams that require mutual TLS. */
  cert?: string;
  key?: string;
  /** SNI and name to verify, when it differs from the URL's host. */
  serverName?: string;
  /**
   * Istio's subjectAltNames: the upstream certificate must carry one of these (DNS, IP or URI
   * SAN, exactly), which replaces the check of the name (Envoy's match_typed_subject_alt_names).
   */
  subjectAltNames?: string[];
  /** Istio's insecureSkipVerify: no verification of the upstream certificate at all. */
  insecureSkipVerify?: boolean;
}

/**
 * The settings of Istio's DestinationRule `connectionPool` that act on the connections of a
 * client (connection-settings.ts derives them from the pool's spec). A client made without them
 * is the runtime's default client, exactly as it was before pools.
 */
export interface UpstreamConnection {
  /**
   * tcp.connectTimeout (Envoy's cluster connect_timeout): a connection not established in this
   * time, TLS handshake included, fails as a connect failure (UpstreamConnectTimeoutError).
   */
  connectTimeoutMs: number;
  /**
   * http.idleTimeout (Envoy's common_http_protocol_options.idle_timeout): a connection with no
   * request in flight for this long is closed.
   */
  idleTimeoutMs: number;
  /**
   * http.maxRequestsPerConnection (Envoy's max_requests_per_connection): after this many requests
   * an HTTP/1.1 connection is closed once its response is done, an HTTP/2 one takes no new
   * streams and closes when its last stream ends. 0: unlimited.
   */
  maxRequestsPerConnection: number;
  /**
   * tcp.tcpKeepalive: SO_KEEPALIVE on, probing after `timeMs` idle (absent: the system's time).
   * `probes` and `intervalMs` cannot be set through node:net on any of the three runtimes: the
   * system's values apply.
   */
  tcpKeepalive?: { probes?: number; timeMs?: number; intervalMs?: number };
}

/**
 * What chooses a client: services without TLS settings share one pool, each service with them
 * gets its own, and so does each pool with connection settings. The Plan's Upstream is one; the
 * upstream layer itself knows nothing of the Plan.
 */
export interface UpstreamTarget {
  service: string;
  tls?: UpstreamTls;
  /**
   * "http2": h2c (http://) or h2 by ALPN (https://); "auto": h2 or http/1.1, as the upstream picks
   * by ALPN (https:// only; http:// stays HTTP/1.1); absent: HTTP/1.1.
   */
  protocol?: UpstreamProtocol;
  /** The service's (or subset's) pool, whose connectionPool settings the client applies. */
  pool?: { spec: { connectionPool: ConnectionPoolSpec } };
}

export type UpstreamProtocol = "http2" | "auto";
