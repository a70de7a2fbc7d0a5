// What upstreams learn about a client certificate, as the provisioned Plan carries it: Envoy's
// forward_client_cert_details (the XFCC mode) and set_current_client_cert_details (which
// details), plus Portico's plain x-client-cert-* headers. http/xfcc.ts writes the headers from it.

import type { ClientCertForwarding } from "../config/model.ts";

export type XfccMode =
  | "sanitize"
  | "forward-only"
  | "append-forward"
  | "sanitize-set"
  | "always-forward-only";
export type XfccDetail = "subject" | "uri" | "dns" | "cert" | "chain";

export interface XfccPolicy {
  mode: XfccMode;
  /** What to say about the client certificate besides its hash (Envoy's set_current_client_cert_details). */
  details: ReadonlySet<XfccDetail>;
  /** URI SANs of our own certificate, sent as By= (Envoy sends them when there are any). */
  by: readonly string[];
}

export interface CertForwardingPlan {
  xfcc: XfccPolicy;
  /** Also send x-client-cert-subject, -sans and -sha256. */
  headers: boolean;
}

/** Istio's gateway default: replace whatever the client sent with Hash, Subject, URI and DNS. */
export const DEFAULT_XFCC: XfccPolicy = {
  mode: "sanitize-set",
  details: new Set(["subject", "uri", "dns"]),
  by: [],
};

const XFCC_MODES: Record<ClientCertForwarding["mode"], XfccMode> = {
  SANITIZE: "sanitize",
  FORWARD_ONLY: "forward-only",
  APPEND_FORWARD: "append-forward",
  SANITIZE_SET: "sanitize-set",
  ALWAYS_FORWARD_ONLY: "always-forward-only",
};

/** `by`: our certificate's URI SANs, which Envoy sends as By= when it has any. */
export function compileCertForwarding(c: ClientCertForwarding | undefined, by: string[]): CertForwardingPlan {
  if (!c) return { xfcc: DEFAULT_XFCC, headers: false };
  const details = new Set(c.details.map((d) => d.toLowerCase() as XfccDetail));
  return { xfcc: { mode: XFCC_MODES[c.mode], details, by }, headers: c.headers };
}
