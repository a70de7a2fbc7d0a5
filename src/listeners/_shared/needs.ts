// What a listener asks of the runtime's TLS and HTTP APIs. Adapters declare which needs they
// honour; selection (select.ts) takes the fastest adapter that honours all of them.
import type { HttpListenerSpec, TlsListenerSpec, TlsPolicy } from "./types.ts";

export interface ListenerNeeds {
  tls: boolean;
  /** A handshake whose SNI no server lists must be refused (there is no "*" server). */
  strictSni: boolean;
  /** Some server names a wildcard such as "*.example.com". */
  wildcardSni: boolean;
  /** Some host requires a verified client certificate (MUTUAL). */
  clientAuth: boolean;
  /** The handler must see the client certificate (for x-forwarded-client-cert). */
  peerCertificate: boolean;
  /** Some server limits the TLS protocol versions (min/maxProtocolVersion). */
  tlsVersions: boolean;
  /** Some server limits the TLS 1.2 cipher suites (cipherSuites). */
  cipherSuites: boolean;
  /** Responses may end with trailers (an HTTP/2 or gRPC upstream), which must reach the client. */
  trailers: boolean;
  /** Some route forwards Upgrade (WebSocket) requests: the connection's bytes go to a tunnel. */
  websocket: boolean;
  /** The handler must see the request-target exactly as sent (HttpListenerSpec.rawTarget). */
  rawTarget: boolean;
  /** ACME tls-alpn-01: validation handshakes are told apart by their ClientHello (the SNI front). */
  acmeTlsAlpn: boolean;
}

export const NEED_WORDS: Record<keyof ListenerNeeds, string> = {
  tls: "TLS",
  strictSni: "refusing handshakes with an unknown or missing SNI",
  wildcardSni: "wildcard server names",
  clientAuth: "client certificates on some hosts",
  peerCertificate: "the client certificate in the request handler",
  tlsVersions: "TLS protocol versions per server",
  cipherSuites: "TLS 1.2 cipher suites per server (cipherSuites)",
  trailers: "response trailers (routes to an HTTP/2 or gRPC service)",
  websocket: "WebSocket upgrades as a byte tunnel (turn them off with `websocket: false` on the routes)",
  rawTarget:
    "the request-target exactly as sent (settings.requestTarget exact, the default, or " +
    "pathNormalization NONE)",
  acmeTlsAlpn: "answering ACME tls-alpn-01 challenges (an ACME credential on the listener)",
};

/** What one TLS policy asks beyond a certificate: each of these needs node:http2 on Bun. */
export type PolicyNeeds = Pick<
  ListenerNeeds,
  "clientAuth" | "peerCertificate" | "tlsVersions" | "cipherSuites"
>;

export function policyNeeds(p: TlsPolicy): PolicyNeeds {
  // OPTIONAL_MUTUAL and the checks beyond the chain (SAN, SPKI, hash, CRL) need what MUTUAL needs.
  const clientAuth = p.requireClientCert || p.requestClientCert === true || p.checkClientCert !== undefined;
  return {
    clientAuth,
    peerCertificate: clientAuth,
    tlsVersions: p.minVersion !== undefined || p.maxVersion !== undefined,
    cipherSuites: p.ciphers !== undefined,
  };
}

export function needsOf(spec: HttpListenerSpec): ListenerNeeds {
  const tls = spec.tls;
  const needs: ListenerNeeds = {
    ...tlsNeeds(tls),
    trailers: spec.trailers === true,
    websocket: spec.upgrades === true,
    rawTarget: spec.rawTarget === true,
  };
  for (const p of tls?.policies ?? []) addPolicyNeeds(needs, p);
  return needs;
}

/** A listener's needs before its policies are added (addPolicyNeeds); none that routes make. */
export function tlsNeeds(tls: Omit<TlsListenerSpec, "policies"> | undefined): ListenerNeeds {
  return {
    tls: tls !== undefined,
    strictSni: tls !== undefined && tls.defaultPolicy === undefined,
    wildcardSni: false,
    clientAuth: false,
    peerCertificate: false,
    tlsVersions: false,
    cipherSuites: false,
    trailers: false,
    websocket: false,
    rawTarget: false,
    acmeTlsAlpn: tls?.acmeTlsAlpn !== undefined,
  };
}

/** Adds what one policy asks: needsOf's loop, which the gateway also runs, in slices, for its keys. */
export function addPolicyNeeds(needs: ListenerNeeds, p: TlsPolicy): void {
  needs.wildcardSni ||= p.hosts.some((h) => h.startsWith("*."));
  const more = policyNeeds(p);
  needs.clientAuth ||= more.clientAuth;
  needs.peerCertificate ||= more.peerCertificate;
  needs.tlsVersions ||= more.tlsVersions;
  needs.cipherSuites ||= more.cipherSuites;
}
