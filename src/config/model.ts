// The validated configuration: plain data, no file contents, no sockets. Produced from
// routes.yaml (routes-yaml/) and Istio documents (istio/), composed by sources/compose.ts;
// consumed by `provision`. Every node keeps where it came from so provisioning errors can name
// file, line and field. HTTP routes are in route-model.ts.

import type { PathNormalization } from "../util/path-normalize.ts";
import type { Source } from "../util/errors.ts";
import type { RequestTargetMode } from "./defaults.ts";
import type { LimitsConfig } from "./limits.ts";
import type {
  EndpointConfig,
  Resolution,
  SubsetConfig,
  TrafficPolicyConfig,
  UpstreamTlsConfig,
} from "./pool-model.ts";
import type { DestinationConfig, HttpRouteConfig } from "./route-model.ts";
export type { Source } from "../util/errors.ts";
export type * from "./pool-model.ts";
export type * from "./route-model.ts";
export type { LimitsConfig } from "./limits.ts";

export type TlsMode = "SIMPLE" | "MUTUAL" | "OPTIONAL_MUTUAL";

/** Istio's TLSProtocol values that Portico serves (TLS 1.0 and 1.1 are refused: RFC 8996). */
export type TlsProtocolVersion = "TLSV1_2" | "TLSV1_3";

export interface TlsServerConfig {
  hosts: string[];
  mode: TlsMode;
  /**
   * Name of an entry in `credentials`. The file form (`serverCertificate`, `privateKey`,
   * `caCertificates`) becomes a credential named `<file>:listeners[i].servers[j].tls`.
   */
  credential: string;
  // Istio's ServerTLSSettings beyond mode and credential (server-tls.ts); all optional.
  /** A verified client certificate must carry one of these SANs (DNS, URI, email or IP), exactly. */
  subjectAltNames?: string[];
  /** Base64 SHA-256 of the client certificate's SubjectPublicKeyInfo; any one may match. */
  verifyCertificateSpki?: string[];
  /** Lower-case hex SHA-256 of the client certificate (DER), colons removed; any one may match. */
  verifyCertificateHash?: string[];
  /** Absolute path of a PEM (or DER) CRL file; a client certificate it lists is refused. */
  caCrl?: string;
  minProtocolVersion?: TlsProtocolVersion;
  maxProtocolVersion?: TlsProtocolVersion;
  /** OpenSSL names of TLS 1.2 cipher suites (TLS 1.3 suites are not configurable). */
  cipherSuites?: string[];
  source: Source;
}

/**
 * What reaches upstreams about client certificates (Istio's gatewayTopology
 * forwardClientCertDetails; Envoy's forward_client_cert_details and
 * set_current_client_cert_details).
 */
export interface ClientCertForwarding {
  mode: "SANITIZE" | "FORWARD_ONLY" | "APPEND_FORWARD" | "SANITIZE_SET" | "ALWAYS_FORWARD_ONLY";
  details: ("Subject" | "URI" | "DNS" | "Cert" | "Chain")[];
  /** Also x-client-cert-subject, -sans, -sha256 for upstreams that want plain headers. */
  headers: boolean;
}

export interface HttpListenerConfig {
  protocol: "HTTP";
  name: string;
  address: string;
  port: number;
  hosts: string[];
  httpsRedirect: boolean;
  clientCerts?: ClientCertForwarding;
  numTrustedProxies?: number;
  preserveExternalRequestId?: boolean;
  /** The listener's own `limits:` (limits.ts); fields it leaves out are settings'. */
  limits?: LimitsConfig;
  source: Source;
}

export interface HttpsListenerConfig {
  protocol: "HTTPS";
  name: string;
  address: string;
  port: number;
  servers: TlsServerConfig[];
  clientCerts?: ClientCertForwarding;
  /**
   * Proxies in front of the listener whose x-forwarded-for entries are believed (Istio's
   * gatewayTopology.numTrustedProxies, Envoy's xff_num_trusted_hops); undefined: settings'.
   */
  numTrustedProxies?: number;
  /** Keep a client's x-request-id (Envoy's preserve_external_request_id); undefined: settings'. */
  preserveExternalRequestId?: boolean;
  /** The listener's own `limits:` (limits.ts); fields it leaves out are settings'. */
  limits?: LimitsConfig;
  source: Source;
}

/** Istio `protocol: TCP`: bytes forwarded to the destination of the first matching `tcp` route. */
export interface TcpListenerConfig {
  protocol: "TCP";
  name: string;
  address: string;
  port: number;
  /** The Gateway server's hosts; TCP has no name to match, so they only document intent ("*"). */
  hosts: string[];
  /** maxConnections and idleTimeout of the listener's `limits:`. */
  limits?: LimitsConfig;
  source: Source;
}

/** A Gateway server with `tls: { mode: PASSTHROUGH }`: these SNI names are accepted, not terminated. */
export interface TlsPassthroughServerConfig {
  hosts: string[];
  mode: "PASSTHROUGH";
  source: Source;
}

/** Istio `protocol: TLS` with PASSTHROUGH servers: the ClientHello's SNI picks a `tls` route. */
export interface TlsPassthroughListenerConfig {
  protocol: "TLS";
  name: string;
  address: string;
  port: number;
  servers: TlsPassthroughServerConfig[];
  /** maxConnections and idleTimeout of the listener's `limits:`. */
  limits?: LimitsConfig;
  source: Source;
}

export type ListenerConfig =
  | HttpListenerConfig
  | HttpsListenerConfig
  | TcpListenerConfig
  | TlsPassthroughListenerConfig;

export interface CredentialConfig {
  name: string;
  /** Absolute paths, resolved against the config file's folder. */
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to (MUTUAL). */
  ca?: string;
  /**
   * True for the folder form (`name: path/to/dir`), where `ca.crt` may or may not exist, like
   * the optional `ca.crt` key of a Kubernetes TLS secret. Provisioning checks the disk.
   */
  caOptional: boolean;
  /**
   * PEM text given inline (a Kubernetes Secret document): used instead of reading the file of
   * the same role. The file fields then hold a description of where the text came from.
   */
  inline?: { cert?: string; key?: string; ca?: string };
  /**
   * An ACME credential (routes.yaml `credentials.NAME.acme`): Portico obtains and renews the
   * certificate (src/acme/); `cert` and `key` then only describe where it is kept.
   */
  acme?: AcmeSettings;
  source: Source;
}

/** routes.yaml `credentials.NAME.acme`, resolved: the directory is a URL, the bundle a path. */
export interface AcmeSettings {
  directory: string;
  email?: string;
  /** Absolute path of the PEM bundle the directory's HTTPS certificate must chain to. */
  caBundle?: string;
  eab?: { kid: string; hmacKey: string };
  challenges?: ("http-01" | "tls-alpn-01")[];
  keyType: "ec" | "rsa";
  /** Renew this long before expiry instead of at 2/3 of the lifetime or the CA's ARI window. */
  renewBeforeMs?: number;
}

/**
 * A service: one URL (routes.yaml `services.x: URL`, `--service`), or a pool of endpoints
 * (routes.yaml `endpoints`, an Istio ServiceEntry), with an optional traffic policy and subsets
 * (routes.yaml, or the DestinationRule for its host).
 *
 * How to read it (for provisioning):
 * - `endpoints` absent: the service is its URL, one endpoint `host:port`, as before; `url`,
 *   `host` and `port` are where to connect.
 * - `endpoints` present: pick an endpoint per try and connect to its `address:port`, resolved as
 *   `resolution` says. `url` then names the service, not a place to connect: its scheme is what
 *   to speak to every endpoint (https when `tls` asks for TLS), its host and `host` are the
 *   service's host name (the ServiceEntry host, or the routes.yaml name), `port` the service port.
 * - `tls`, `trafficPolicy`, `subsets` apply to both forms.
 */
export interface ServiceConfig {
  name: string;
  /** Origin only: scheme, host and port. `tcp://host:port` serves tcp/tls routes only. */
  url: string;
  /** The URL's host and port (service-url.ts), for tcp and tls routes, which connect to them. */
  host: string;
  port: number;
  /**
   * Upstream TLS for https:// services: routes.yaml `tls` or the DestinationRule's
   * `trafficPolicy.tls` (pool-model.ts); files resolved against the config's folder.
   */
  tls?: UpstreamTlsConfig;
  /**
   * HTTP/2 to the upstream (h2c:// or h2:// url, or protocol HTTP2 or GRPC); "auto": h2 or
   * http/1.1, whichever a TLS upstream picks by ALPN (protocol AUTO); absent: HTTP/1.1.
   */
  protocol?: "http2" | "auto";
  source: Source;
  // Issue 10: pools. All absent for a plain single-URL service without policy.
  /** The pool's endpoints; absent: the one endpoint `host:port` of `url`. */
  endpoints?: EndpointConfig[];
  /** How `endpoints` addresses are resolved; set whenever `endpoints` is. */
  resolution?: Resolution;
  /** Load balancing, connection pool, outlier detection, health checks (never `tls`: see `tls`). */
  trafficPolicy?: TrafficPolicyConfig;
  /** Named subsets that `destination.subset` picks (DestinationRule or routes.yaml `subsets`). */
  subsets?: SubsetConfig[];
}

export interface VirtualHostConfig {
  hosts: string[];
  /**
   * Names of the listeners these routes attach to; undefined attaches them to every listener
   * (native routes.yaml). An Istio VirtualService attaches only through its `gateways`.
   */
  listeners?: string[];
  http: HttpRouteConfig[];
  /** Istio TCPRoute: first match wins; absent or empty when the entry has none. */
  tcp?: TcpRouteConfig[];
  /**
   * Istio TLSRoute (SNI passthrough): chosen by SNI, exact beats wildcard; for one name the first route wins.
   */
  tls?: TlsRouteConfig[];
  source: Source;
}

/** Istio L4MatchAttributes, the part Portico honours: the listener's port. */
export interface L4MatchConfig {
  /** Absent: any port of the listeners the entry attaches to. */
  port?: number;
}

/** Istio TLSMatchAttributes: SNI names (exact, "*.suffix" or "*") and optionally the port. */
export interface TlsMatchConfig extends L4MatchConfig {
  sniHosts: string[];
}

export interface TcpRouteConfig {
  /** Any one of these matches (OR); an empty list matches every connection. */
  match: L4MatchConfig[];
  /** Weighted; only a service's host and port are used (`tcp://host:port`, or any URL). */
  destinations: DestinationConfig[];
  source: Source;
}

export interface TlsRouteConfig {
  /** Any one of these matches (OR); Istio requires at least one, each with sniHosts. */
  match: TlsMatchConfig[];
  destinations: DestinationConfig[];
  source: Source;
}

export interface Config {
  /** Files the configuration was read from, in order. */
  files: string[];
  listeners: ListenerConfig[];
  credentials: Map<string, CredentialConfig>;
  services: Map<string, ServiceConfig>;
  routes: VirtualHostConfig[];
  settings: {
    /** Default route timeout in milliseconds (Envoy's default is 15 s). */
    timeoutMs: number;
    /** Value of the `server` response header; empty string removes it. */
    serverHeader: string;
    /** Admin listener, "ADDR:PORT" or "off"; undefined: the default (127.0.0.1:15000). */
    admin?: string;
    /** Istio's MeshConfig pathNormalization level, for matching and forwarding (default BASE). */
    pathNormalization: PathNormalization;
    /** settings.requestTarget (defaults.ts): whether the target must reach the upstream as sent. */
    requestTarget: RequestTargetMode;
    /**
     * The access log as configured: routes.yaml's settings.accessLog, with what Istio's
     * MeshConfig or Telemetry documents say filling the parts it leaves out. Undefined parts
     * take the defaults (defaults.ts) unless the command line sets them.
     */
    accessLog?: AccessLogSettings;
    /** settings.watch: reload when a loaded file changes; undefined: the default (on). */
    watch?: boolean;
    /** Listeners' numTrustedProxies where they set none; undefined: 0, no client value believed. */
    numTrustedProxies?: number;
    /** Listeners' preserveExternalRequestId where they set none; undefined: false. */
    preserveExternalRequestId?: boolean;
    /** settings.limits: every listener's limits where its own block sets none (limits.ts). */
    limits?: LimitsConfig;
  };
}

/** Where the access log goes ("stdout", "stderr", "off" or a file path) and in which format. */
export interface AccessLogSettings {
  path?: string;
  format?: "json" | "text";
}
