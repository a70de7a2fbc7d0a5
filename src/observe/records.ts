// What Portico observes about the traffic it carries, as plain records: one per HTTP request,
// one per TCP or passthrough connection, plus TLS handshake outcomes. The access log
// (access-log.ts) and the metrics (metrics.ts) are two sinks of the same records, so a request
// is measured once and both agree. The request path fills a record as it goes; nothing here
// formats or writes.

/**
 * Envoy's response flags (%RESPONSE_FLAGS%), the ones Portico can produce. A request may carry
 * several (URX with UF, for example); none means a normal response.
 */
export type ResponseFlag =
  /** No route (or no virtual host) for the request. */
  | "NR"
  /** Upstream connection failure. */
  | "UF"
  /** Upstream request timeout. */
  | "UT"
  /** Upstream connection terminated (reset or closed before or during the response). */
  | "UC"
  /** Downstream (the client) closed before the response was complete. */
  | "DC"
  /** Retries exhausted (the last try's failure is flagged too). */
  | "URX"
  /** Upstream overflow: circuit breaking refused the request. */
  | "UO"
  /** No healthy upstream host (every endpoint ejected or failing health checks). */
  | "UH"
  /** Fault injection aborted the request. */
  | "FI"
  /** Fault injection delayed the request. */
  | "DI"
  /** The request was refused before routing (a bad request-target, a misdirected host). */
  | "DPE";

/** One HTTP request, filled in while it is handled and complete when its response ends. */
export interface RequestRecord {
  /** Epoch milliseconds when the request reached the handler. */
  startTime: number;
  listener: string;
  /** The SNI of the TLS connection (undefined on plain HTTP). */
  sni: string | undefined;
  protocol: "HTTP/1.1" | "HTTP/2" | "HTTP/1.0";
  method: string;
  /** The request's authority (Host or :authority), as sent. */
  authority: string;
  /** The request-target's path and query as received (before normalisation or rewrite). */
  path: string;
  /** The response status sent to the client; 0 when none was (the client left first). */
  status: number;
  flags: ResponseFlag[];
  /** Request body bytes received from the client. */
  bytesReceived: number;
  /** Response body bytes sent to the client. */
  bytesSent: number;
  /** From the request's arrival to the last byte of the response (or the client leaving). */
  durationMs: number;
  /** The endpoint the (last) try went to, "address:port"; undefined when none was tried. */
  upstreamHost: string | undefined;
  /** The service (cluster) name of that endpoint. */
  upstreamService: string | undefined;
  /** Time from sending the request upstream to its response headers (the last try). */
  upstreamServiceTimeMs: number | undefined;
  /** Tries after the first. */
  retries: number;
  /** x-request-id as forwarded (kept or generated). */
  requestId: string | undefined;
  /** The route's name (routes.yaml `name` or the VirtualService route's `name`), if it has one. */
  route: string | undefined;
  /**
   * The virtual host that took the request, as configured ("catalog.example.com", "*.example.com",
   * "*"): a bounded metric label, unlike the Host header. Undefined when none matched.
   */
  vhost: string | undefined;
  /** The verified client certificate's subject (RFC 4514) and URI SAN, when there is one. */
  peerSubject: string | undefined;
  peerUriSan: string | undefined;
  /**
   * The client's address as Envoy's %DOWNSTREAM_REMOTE_ADDRESS% gives it: the address
   * x-forwarded-for names for the listener's numTrustedProxies (xff_num_trusted_hops), else the
   * connection's peer (http/forwarded.ts).
   */
  remoteAddress: string;
  /** The connection's peer, always (%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%). */
  directRemoteAddress: string;
  /** User-Agent and X-Forwarded-For as received (Envoy's default log line shows both). */
  userAgent?: string | undefined;
  forwardedFor?: string | undefined;
}

/** One TCP or TLS-passthrough connection, complete when both its sides have closed. */
export interface ConnectionRecord {
  startTime: number;
  listener: string;
  kind: "tcp" | "tls-passthrough";
  /** The SNI that chose the backend (passthrough). */
  sni: string | undefined;
  /** "address:port" of the backend; undefined when none was chosen. */
  upstreamHost: string | undefined;
  upstreamService: string | undefined;
  /** UF (backend unreachable), NR (no route for the SNI), DC/UC (who closed first). */
  flags: ResponseFlag[];
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  remoteAddress: string;
}

/**
 * How a TLS handshake on an HTTPS listener ended. "ok" counts handshakes; the others are the
 * failure reasons an operator alerts on.
 */
export type HandshakeOutcome =
  | "ok"
  /** No SNI, and no server accepts that. */
  | "no_sni"
  /** An SNI no server lists. */
  | "unknown_sni"
  /** MUTUAL, and the client sent no certificate. */
  | "client_cert_missing"
  /** The client's certificate does not chain to the CA. */
  | "client_cert_untrusted"
  /** The certificate chains, but a pin, SAN list or CRL refuses it. */
  | "client_cert_rejected"
  /** Anything else: not TLS, no shared version or cipher, a malformed or truncated hello. */
  | "protocol";

/** The sinks of the records (access log, metrics); the gateway hands each record to all. */
export interface TrafficObserver {
  request(r: RequestRecord): void;
  connection(r: ConnectionRecord): void;
  handshake(listener: string, outcome: HandshakeOutcome): void;
  /** A client connection to `listener` was accepted / closed (any kind of listener). */
  connectionOpened(listener: string): void;
  connectionClosed(listener: string): void;
  /** An HTTP request (an HTTP/2 stream) on `listener` began / ended (the requests-active gauge). */
  requestStarted?(listener: string): void;
  requestEnded?(listener: string): void;
}

/** Hands every record to each sink, in order. */
export function observers(sinks: TrafficObserver[]): TrafficObserver {
  return {
    request: (r) => {
      for (const s of sinks) s.request(r);
    },
    connection: (r) => {
      for (const s of sinks) s.connection(r);
    },
    handshake: (l, o) => {
      for (const s of sinks) s.handshake(l, o);
    },
    connectionOpened: (l) => {
      for (const s of sinks) s.connectionOpened(l);
    },
    connectionClosed: (l) => {
      for (const s of sinks) s.connectionClosed(l);
    },
    requestStarted: (l) => {
      for (const s of sinks) s.requestStarted?.(l);
    },
    requestEnded: (l) => {
      for (const s of sinks) s.requestEnded?.(l);
    },
  };
}
