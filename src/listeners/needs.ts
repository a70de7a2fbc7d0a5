// What a listener asks of the runtime's TLS and HTTP APIs. Adapters declare which needs they
// honour; selection (select.ts) takes the fastest adapter that honours all of them.
import type { ListenerSpec } from "./types.ts";

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
}

export const NEED_WORDS: Record<keyof ListenerNeeds, string> = {
  tls: "TLS",
  strictSni: "refusing handshakes with an unknown or missing SNI",
  wildcardSni: "wildcard server names",
  clientAuth: "client certificates on some hosts",
  peerCertificate: "the client certificate in the request handler",
};

export function needsOf(spec: ListenerSpec): ListenerNeeds {
  const tls = spec.tls;
  if (!tls) return { tls: false, strictSni: false, wildcardSni: false, clientAuth: false, peerCertificate: false };
  const clientAuth = tls.policies.some((p) => p.requireClientCert);
  return {
    tls: true,
    strictSni: tls.defaultPolicy === undefined,
    wildcardSni: tls.policies.some((p) => p.hosts.some((h) => h.startsWith("*."))),
    clientAuth,
    peerCertificate: clientAuth,
  };
}
