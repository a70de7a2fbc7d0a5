// The contract between the core (which knows routes) and listener adapters (which know sockets).
// Adapters never import the router: an HTTP listener gets a handler and TLS policies, a stream
// listener a backend chooser. It lives in _shared/ with the adapters' toolkit so that imports go
// one way: select.ts → adapters → _shared/, and the core → _shared/types.ts.

import type { ListenerLimits, StreamLimits } from "../../config/limits.ts";
import type { ConnectionRecord, HandshakeOutcome } from "../../observe/records.ts";
import type { ProxyRequest } from "../../util/proxy-request.ts";

export type { ProxyRequest };

/** The client certificate a TLS handshake verified, as the handler needs it. */
export interface PeerCertificate {
  /** DER bytes of the leaf certificate. */
  der: Uint8Array<ArrayBuffer>;
  /** Lower-case hex SHA-256 of `der`. */
  sha256: string;
  /** The chain the client sent, leaf first (DER), when the adapter can see it. */
  chain?: Uint8Array<ArrayBuffer>[];
}

/** Facts about the connection a request arrived on; one object per connection. */
export interface ConnectionInfo {
  remoteAddress: string;
  /**
   * The HTTP version the connection speaks, when the adapter knows it better than `tls.alpn`
   * says (absent: HTTP/2 when ALPN chose h2, else HTTP/1.1).
   */
  protocol?: "HTTP/1.1" | "HTTP/2";
  /**
   * The request asks for an Upgrade and the adapter can give its connection to a tunnel
   * (tunnel.ts). Absent: an Upgrade request is served as an ordinary request.
   */
  upgrade?: true;
  /** Present on TLS listeners. */
  tls?: {
    /** The SNI the handshake was selected by (lower-case). */
    serverName: string;
    /** Index of the TLS server entry (policy) that terminated the connection, in its spec then. */
    serverIndex: number;
    /**
     * That policy itself, as it was: a reload that adds or removes servers applies in place
     * (RunningListener.updateTls), so indices move under open connections, and the handler
     * finds the connection's server in the current plan by what it is (http/app.ts).
     */
    policy?: TlsPolicy;
    /** "h2" or "http/1.1". */
    alpn: string;
    /** Verified client certificate, when the policy asked for one. */
    peer: PeerCertificate | undefined;
  };
}

/**
 * `target` is the request-target exactly as the client sent it (HTTP/1.1 request line, h2
 * `:path`), when the adapter still has it: a Web Request's `url` went through WHATWG URL
 * parsing, which re-encodes the query (`'` → `%27`) and rewrites the path, so it is only the
 * fallback (Bun.serve gives nothing else: docs/runtimes.md).
 */
export type RequestHandler = (
  req: ProxyRequest,
  conn: ConnectionInfo,
  target?: string,
) => Response | Promise<Response>;

/** One TLS server entry: a certificate and a client-auth policy for some host names. */
export interface TlsPolicy {
  /** Host names this policy serves: exact names, "*.suffix" or "*". */
  hosts: string[];
  certPem: string;
  keyPem: string;
  /** The private key's kind (tls/key-kind.ts), when the plan knows it already; else read from keyPem. */
  keyKind?: string;
  /** Trust anchors for client certificates; required when `requireClientCert` or `requestClientCert`. */
  caPem?: string;
  requireClientCert: boolean;
  /** OPTIONAL_MUTUAL: ask for a client certificate and verify one that is sent, but admit clients without. */
  requestClientCert?: boolean;
  /**
   * Checks a client certificate (DER) that passed chain verification (SAN, SPKI, hash, CRL); a
   * reason means the connection is closed before any request on it is handled.
   */
  checkClientCert?: (der: Uint8Array<ArrayBuffer>) => string | undefined;
  /** Protocol range for this policy (default: the listener's minVersion to TLS 1.3). */
  minVersion?: "TLSv1.2" | "TLSv1.3";
  maxVersion?: "TLSv1.2" | "TLSv1.3";
  /** OpenSSL cipher list for TLS 1.2 ("A:B"); TLS 1.3 suites stay the library's defaults. */
  ciphers?: string;
}

export interface TlsListenerSpec {
  policies: TlsPolicy[];
  /**
   * Picks the policy for a ClientHello's SNI (undefined when the client sent none). Returning
   * undefined refuses the handshake, as Istio does for a name no server lists.
   */
  selectPolicy(serverName: string | undefined): number | undefined;
  /**
   * The policy for a ClientHello without SNI or with a name no policy lists (a server whose
   * hosts include "*"); undefined when such handshakes must be refused.
   */
  defaultPolicy: number | undefined;
  minVersion: "TLSv1.2" | "TLSv1.3";
  /**
   * ACME tls-alpn-01 (RFC 8737): a ClientHello offering ALPN "acme-tls/1" for a name being
   * validated goes, before any policy, to the loopback port this returns (the SNI front pipes it).
   */
  acmeTlsAlpn?: { tlsAlpnPort(name: string | undefined): number | undefined };
}

/** Where a forwarded TCP connection goes. */
export interface StreamBackend {
  host: string;
  port: number;
  /** The service (cluster) the backend belongs to, for the access log. */
  service?: string;
  /** No connection within this long fails the connect (Envoy's connect_timeout); default 10 s. */
  connectTimeoutMs?: number;
  /** SO_KEEPALIVE on the backend connection, probing after this idle time (0: the system's). */
  keepAliveMs?: number;
  /** Told whether the connection to the backend was made, then (when it was) that it closed. */
  connected?(ok: boolean): void;
  closed?(): void;
}

/** How a TCP listener forwards bytes: plain TCP, or TLS passthrough chosen by SNI. */
export interface StreamRouting {
  /** Read the ClientHello's SNI before choosing a backend (TLS passthrough); the bytes stay intact. */
  sni: boolean;
  /** The backend for a connection (`serverName`: the SNI when `sni`); undefined closes it. */
  backend(serverName: string | undefined): StreamBackend | undefined;
}

/**
 * What an adapter reports about its traffic beyond handing requests over; the gateway turns it
 * into access-log lines and metrics (src/observe/). Every hook is optional and must be cheap.
 */
export interface ListenerEvents {
  /** A TLS handshake on this listener ended, well or not (HTTPS listeners). */
  handshake?(outcome: HandshakeOutcome): void;
  /** A client connection was accepted / closed (the active-connections gauge). */
  connectionOpened?(): void;
  connectionClosed?(): void;
  /** An HTTP request (an HTTP/2 stream) began / ended (the requests-active gauge). */
  requestStarted?(): void;
  requestEnded?(): void;
  /**
   * The response the handler returned has ended: every body byte written (`clientClosed`
   * false), or the client went away first. Called once per response the handler returned.
   */
  responseEnd?(res: Response, end: ResponseEnd): void;
  /** A TCP or passthrough connection has closed on both sides (or was refused): its record. */
  streamEnd?(r: StreamEnd): void;
}

/** A stream connection's record as the adapter knows it: the gateway adds the listener's name. */
export type StreamEnd = Omit<ConnectionRecord, "listener">;

/** How a response ended (ListenerEvents.responseEnd). */
export interface ResponseEnd {
  /** Response body bytes written to the client (for a tunnel: bytes from upstream to client). */
  bytesSent: number;
  /** The client went away before the response was complete (for a tunnel: it closed first). */
  clientClosed: boolean;
  /** For a tunnel, bytes from the client to the upstream; absent for ordinary responses. */
  bytesReceived?: number;
  /** The client left before the handler answered: no status line was sent. */
  unanswered?: true;
}

interface ListenerBase {
  name: string;
  address: string;
  port: number;
  /** Called for connection-level problems worth logging (never for ordinary disconnects). */
  onError?: (err: Error) => void;
  events?: ListenerEvents;
}

/** An HTTP or HTTPS listener: every request goes to `handler`. */
export interface HttpListenerSpec extends ListenerBase {
  kind: "http";
  /** Absent for plain HTTP. */
  tls?: TlsListenerSpec;
  handler: RequestHandler;
  /**
   * Some route reaches an HTTP/2 upstream (gRPC): responses may end with trailers
   * (util/trailers.ts), which the adapter must write.
   */
  trailers?: boolean;
  /**
   * Some route forwards Upgrade (WebSocket) requests: the adapter must hand the handler's tunnel
   * (tunnel.ts) the client's connection after the 101. Absent: none does.
   */
  upgrades?: boolean;
  /** The handler must get the raw request-target (`target`), not only a parsed URL. */
  rawTarget?: boolean;
  /**
   * Connection and header limits the adapter enforces (config/limits.ts; the body limit is the
   * handler's, except that Bun.serve is told `maxRequestBodyBytes`: the largest any route
   * admits). Absent: the defaults.
   */
  limits?: ListenerLimits;
}

/** A TCP or TLS-passthrough listener: no HTTP inside, so no handler. */
export interface StreamListenerSpec extends ListenerBase, StreamRouting {
  kind: "stream";
  /** Absent: no connection cap, Envoy tcp_proxy's 1 h idle timeout. */
  limits?: StreamLimits;
}

export type ListenerSpec = HttpListenerSpec | StreamListenerSpec;

export interface RunningListener {
  readonly name: string;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /**
   * Limits (config/limits.ts field names) this adapter cannot enforce for this listener, said once
   * at startup; absent or empty: every limit is enforced.
   */
  readonly unenforced?: string[];
  close(): Promise<void>;
  /**
   * Serves `tls` from the next handshake on, without refusing a connection or cutting one:
   * policies added, removed or reordered, new credentials or client-certificate checks, a new
   * server table. The caller only asks when the listener's needs (needs.ts) are the same, so
   * the adapter chosen for it would be the same. (bun-serve binds a new listening socket beside
   * the old one; the others keep theirs.) Connections already open keep the policy they were
   * handshaken under. False: this listener cannot, and must be restarted. Absent: never can.
   */
  updateTls?(tls: TlsListenerSpec): Promise<boolean>;
}

/** An adapter: binds a listener of its kind and serves it until closed. */
export type StartListener<S extends ListenerSpec = HttpListenerSpec> = (spec: S) => Promise<RunningListener>;
