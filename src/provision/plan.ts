// The provisioned, immutable runtime form of the configuration: certificates read and parsed,
// matchers compiled, lookups indexed. The request path reads only these objects.

import type { ListenerLimits, StreamLimits } from "../config/limits.ts";
import type { AccessLogSettings } from "../config/model.ts";
import type { PathNormalization } from "../util/path-normalize.ts";
import type { HostTable } from "../util/host-table.ts";
import type { CertForwardingPlan } from "./cert-forwarding.ts";
import type { ForwardTrust, PoolPlan, RoutePlan } from "./route-plan.ts";

// The HTTP route types (RoutePlan, its actions, Upstream, MatchInput) are in route-plan.ts and
// re-exported here, so the Plan can be imported from one module.
export type * from "./route-plan.ts";

export interface CertificateSummary {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** Lower-case hex SHA-256 of the DER certificate. */
  sha256: string;
  dnsNames: string[];
  /** URI SANs (SPIFFE IDs and the like). */
  uriNames: string[];
}

export interface CredentialPlan {
  name: string;
  certFile: string;
  keyFile: string;
  caFile?: string;
  /** PEM text as read from disk (leaf first, then any intermediates). */
  certPem: string;
  keyPem: string;
  caPem?: string;
  /** SHA-256 of the certificate, key and CA PEM text: equal digests, the same credential. */
  digest: string;
  leaf: CertificateSummary;
  /** Every certificate of the certificate file, leaf first. */
  chain: CertificateSummary[];
  /** Empty when each link of `chain` is issued and signed by the next. */
  chainProblems: string[];
  /** The issuer of the last certificate in `chain`: what clients must already trust. */
  anchoredAt: string;
  /** Trust anchors for client certificates (ca.crt), when there are any. */
  clientCa: CertificateSummary[];
  /** The leaf's names as OpenSSL prints them, for checking which hosts it covers. */
  leafNames: { subjectAltNames: string[]; commonNames: string[] };
  /**
   * The private key's kind (tls/key-kind.ts), found once per key text: the gateway compares it
   * on every reload (a new kind may need another inner server), for every server.
   */
  keyKind: string;
}

/** What a credential's PEM text says, read and checked: the part of a CredentialPlan a reload can keep. */
export type CredentialFacts = Omit<
  CredentialPlan,
  "name" | "certFile" | "keyFile" | "caFile" | "certPem" | "keyPem" | "caPem" | "digest"
>;

/** What reading the PEM text finds; the key's kind is added from the key text alone. */
export type ParsedFacts = Omit<CredentialFacts, "keyKind">;

export type TlsMode = "SIMPLE" | "MUTUAL" | "OPTIONAL_MUTUAL";

export interface TlsServerPlan {
  /** Position among the listener's servers; stable identity for the adapter. */
  index: number;
  hosts: string[];
  mode: TlsMode;
  credential: CredentialPlan;
  /**
   * Istio's subjectAltNames / verifyCertificateSpki / verifyCertificateHash / caCrl, compiled:
   * given a client certificate (DER) that chains to the CA, why it is refused, or undefined.
   */
  clientCertCheck?: (der: Uint8Array<ArrayBuffer>) => string | undefined;
  /** min/maxProtocolVersion in node:tls terms; absent: TLS 1.2 to 1.3. */
  minVersion?: "TLSv1.2" | "TLSv1.3";
  maxVersion?: "TLSv1.2" | "TLSv1.3";
  /** cipherSuites as an OpenSSL cipher list ("A:B"); TLS 1.2 only. */
  ciphers?: string;
  /** The listener's policy with By= set to this server certificate's URI SANs. */
  clientCerts: CertForwardingPlan;
}

export interface VirtualHostPlan {
  hosts: string[];
  routes: RoutePlan[];
}

/** What every listener plan has: its name, and the address and port it listens on. */
export interface ListenerBase {
  name: string;
  address: string;
  port: number;
}

/** What HTTP and HTTPS listener plans share. */
export interface HttpListenerBase extends ListenerBase {
  /** Host names this listener accepts requests for (the Gateway server's `hosts`). */
  hosts: HostTable<true>;
  vhosts: HostTable<VirtualHostPlan>;
  /** What upstreams learn about client certificates (x-forwarded-client-cert and friends). */
  clientCerts: CertForwardingPlan;
  /** numTrustedProxies and preserveExternalRequestId, from the listener or settings. */
  trust: ForwardTrust;
  /** Some route may forward an Upgrade (WebSocket): the adapter must be able to tunnel bytes. */
  upgrades: boolean;
  /**
   * Some route the listener can reach proxies to an HTTP/2 upstream (or one that may pick h2 by
   * ALPN), whose responses may end with trailers the adapter must write.
   */
  trailers: boolean;
  /** settings.pathNormalization: how the request path is normalised before matching and forwarding. */
  pathNormalization: PathNormalization;
  /**
   * The handler must see the request-target exactly as sent: settings.requestTarget `exact` (the
   * default) or pathNormalization NONE. Only adapters that expose the raw target can serve it.
   */
  exactTarget: boolean;
  /** The listener's limits, its own over settings' over the defaults (config/limits.ts). */
  limits: ListenerLimits;
  /**
   * The largest request body any route of the listener admits (its routes' maxRequestBodyBytes
   * and the listener's); undefined: some route admits any size. What Bun.serve is told.
   */
  bodyCeiling: number | undefined;
}

/** Answers ACME validation requests (src/acme/challenges.ts); on listeners only when ACME is used. */
export interface AcmeResponder {
  /** http-01: the key authorization for `/.well-known/acme-challenge/<token>`, or undefined. */
  httpAnswer(path: string): Promise<string | undefined>;
  /** tls-alpn-01: the loopback port presenting the validation certificate for `name`, if pending. */
  tlsAlpnPort(name: string | undefined): number | undefined;
}

export interface HttpListenerPlan extends HttpListenerBase {
  kind: "http";
  /** When set, every accepted request is answered with a 301 to https on this port. */
  httpsRedirectPort: number | undefined;
  /** ACME http-01 answers, ahead of redirects and routes; absent when no credential is ACME. */
  acmeHttp01?: AcmeResponder;
}

export interface HttpsListenerPlan extends HttpListenerBase {
  kind: "https";
  servers: TlsServerPlan[];
  /** SNI (or Host) → server entry, exact beats wildcard beats `*`. */
  serverByHost: HostTable<TlsServerPlan>;
  /**
   * True when some server asks for client certificates (MUTUAL or OPTIONAL_MUTUAL): Host must then agree with
   * SNI.
   */
  anyMutual: boolean;
  /** ACME tls-alpn-01 answers, ahead of the SNI table; absent when no server's credential is ACME. */
  acmeTlsAlpn?: AcmeResponder;
  /** Hosts of servers whose ACME credential has no certificate yet: refused as an unknown SNI. */
  acmePending?: string[];
}

export type ListenerPlan = HttpListenerPlan | HttpsListenerPlan;

/** A tcp/tls route's destination: only the service's host and port matter. */
export interface StreamUpstream {
  service: string;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  weight: number;
  /** The pool to pick an endpoint from; absent for a direct service (then `host:port`). */
  pool?: PoolPlan;
}

export interface StreamRoutePlan {
  /** `routes[i].tcp[j]` / `routes[i].tls[j]`, for logs. */
  name: string;
  upstreams: StreamUpstream[];
  totalWeight: number;
}

/** `protocol: TCP`: every connection goes to the first tcp route that matches the port. */
export interface TcpListenerPlan extends ListenerBase {
  kind: "tcp";
  limits: StreamLimits;
  /** Undefined when no route matches: connections are closed. */
  route: StreamRoutePlan | undefined;
}

/** `protocol: TLS` with PASSTHROUGH servers: the ClientHello's SNI picks a tls route. */
export interface TlsPassthroughListenerPlan extends ListenerBase {
  kind: "tls-passthrough";
  limits: StreamLimits;
  /** SNI names the Gateway servers accept (exact, "*.suffix", "*"); others are refused. */
  hosts: HostTable<true>;
  /**
   * sniHosts of the tls routes for this port: exact beats the longest wildcard beats "*", as Envoy's filter
   * chains.
   */
  routeBySni: HostTable<StreamRoutePlan>;
}

export type StreamListenerPlan = TcpListenerPlan | TlsPassthroughListenerPlan;

export interface Plan {
  listeners: ListenerPlan[];
  /** TCP and TLS-passthrough listeners (no HTTP inside). */
  streamListeners: StreamListenerPlan[];
  credentials: CredentialPlan[];
  /** Empty string: send no `server` header. */
  serverHeader: string;
  /** settings.admin: "ADDR:PORT" or "off"; undefined for the default. */
  admin?: string;
  /** settings.accessLog (with Istio's MeshConfig/Telemetry); undefined parts: the defaults. */
  accessLog?: AccessLogSettings;
  /** Every service's pool and every subset's, by key (`service`, `service/subset`). */
  pools: Map<string, PoolPlan>;
}
