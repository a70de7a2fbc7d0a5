// The provisioned, immutable runtime form of the configuration: certificates read and parsed,
// matchers compiled, lookups indexed. The request path reads only these objects.

import type { UpstreamTls } from "../upstream/types.ts";
import type { HostTable } from "../util/host-table.ts";

export interface CertificateSummary {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** Lower-case hex SHA-256 of the DER certificate. */
  sha256: string;
  dnsNames: string[];
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
  leaf: CertificateSummary;
  /** Every certificate of the certificate file, leaf first. */
  chain: CertificateSummary[];
  /** Empty when each link of `chain` is issued and signed by the next. */
  chainProblems: string[];
  /** The issuer of the last certificate in `chain`: what clients must already trust. */
  anchoredAt: string;
  /** Trust anchors for client certificates (ca.crt), when there are any. */
  clientCa: CertificateSummary[];
}

export type TlsMode = "SIMPLE" | "MUTUAL";

export interface TlsServerPlan {
  /** Position among the listener's servers; stable identity for the adapter. */
  index: number;
  hosts: string[];
  mode: TlsMode;
  credential: CredentialPlan;
}

export interface DirectAction {
  kind: "direct";
  status: number;
  body: string;
  contentType: string;
}

export interface Upstream {
  service: string;
  /** `scheme://host:port` without trailing slash; the request path is appended as is. */
  origin: string;
  weight: number;
  /** TLS settings for an https:// service; one client (pool) per service is built from it. */
  tls?: UpstreamTls;
}

export interface ProxyAction {
  kind: "proxy";
  upstreams: Upstream[];
  totalWeight: number;
  timeoutMs: number;
}

export type RouteAction = DirectAction | ProxyAction;

export interface RoutePlan {
  name: string;
  /** Tests the path (no query); null means "matches everything". */
  matches: ((path: string) => boolean) | null;
  action: RouteAction;
}

export interface VirtualHostPlan {
  hosts: string[];
  routes: RoutePlan[];
}

interface ListenerPlanBase {
  name: string;
  address: string;
  port: number;
  /** Host names this listener accepts requests for (the Gateway server's `hosts`). */
  hosts: HostTable<true>;
  vhosts: HostTable<VirtualHostPlan>;
}

export interface HttpListenerPlan extends ListenerPlanBase {
  kind: "http";
  /** When set, every accepted request is answered with a 301 to https on this port. */
  httpsRedirectPort: number | undefined;
}

export interface HttpsListenerPlan extends ListenerPlanBase {
  kind: "https";
  servers: TlsServerPlan[];
  /** SNI (or Host) → server entry, exact beats wildcard beats `*`. */
  serverByHost: HostTable<TlsServerPlan>;
  /** True when some server requires client certificates: Host must then agree with SNI. */
  anyMutual: boolean;
}

export type ListenerPlan = HttpListenerPlan | HttpsListenerPlan;

export interface Plan {
  listeners: ListenerPlan[];
  credentials: CredentialPlan[];
  /** Empty string: send no `server` header. */
  serverHeader: string;
}
