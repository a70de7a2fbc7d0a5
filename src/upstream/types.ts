// The upstream client contract: a Web-standard exchange, whatever the runtime does inside.

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
 * What chooses a client: services without TLS settings share one pool, each service with them
 * gets its own. The Plan's Upstream is one; the upstream layer itself knows nothing of the Plan.
 */
export interface UpstreamTarget {
  service: string;
  tls?: UpstreamTls;
  /**
   * "http2": h2c (http://) or h2 by ALPN (https://); "auto": h2 or http/1.1, as the upstream picks
   * by ALPN (https:// only; http:// stays HTTP/1.1); absent: HTTP/1.1.
   */
  protocol?: UpstreamProtocol;
}

export type UpstreamProtocol = "http2" | "auto";
