// How an upstream certificate is verified beyond the trust anchors, from Istio's
// ClientTLSSettings: `insecureSkipVerify` turns verification off; `subjectAltNames` requires one
// of the names among the certificate's SANs, compared exactly (Envoy's
// match_typed_subject_alt_names with exact matchers, which replaces the check of the host name).
// As node:tls options, which Bun's fetch `tls` takes too.
import type { PeerCertificate } from "node:tls";
import type { UpstreamTls } from "./types.ts";

export function verification(tls: UpstreamTls | undefined) {
  return {
    ...(tls?.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
    ...(tls?.subjectAltNames ? { checkServerIdentity: subjectAltNameCheck(tls.subjectAltNames) } : {}),
  };
}

/** node:tls's checkServerIdentity for `names`: undefined when a SAN matches, else the error. */
export function subjectAltNameCheck(names: readonly string[]) {
  const wanted = new Set(names);
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    // "DNS:a.example, IP Address:10.0.0.1, URI:spiffe://x": the value after each type.
    const sans = (cert.subjectaltname ?? "").split(", ").map((s) => s.slice(s.indexOf(":") + 1));
    if (sans.some((s) => wanted.has(s))) return undefined;
    const had = sans.filter(Boolean).join(", ") || "none";
    return new Error(`upstream certificate SANs (${had}) match none of subjectAltNames: ${names.join(", ")}`);
  };
}
