// Checks on a client certificate beyond "it chains to the CA", with Envoy's semantics for
// Istio's ServerTLSSettings (CertificateValidationContext in Envoy's API):
// - subjectAltNames: some SAN of the certificate (DNS, URI, email or IP) equals one of them;
// - verifyCertificateHash / verifyCertificateSpki: when either is set, the certificate's
//   SHA-256 or its SPKI's SHA-256 must be listed in one of them ("a hash matching either value
//   will result in the certificate being accepted");
// - caCrl: the certificate is not on a CRL of its issuer. Only the client's own certificate is
//   checked, not intermediates it sends (Envoy's only_verify_leaf_cert_crl).
// Pure: the listener adapter calls the compiled check once per connection, after the handshake.

import { createHash } from "node:crypto";
import type { X509Certificate } from "../certs/x509.ts";
import { x509 } from "../certs/x509-loader.ts";

export interface ClientCertPolicy {
  subjectAltNames?: string[];
  /** Base64 SHA-256 of the SubjectPublicKeyInfo. */
  spkiSha256?: string[];
  /** Lower-case hex SHA-256 of the DER certificate, no colons. */
  certSha256?: string[];
  /** Revoked serial numbers (normalized hex, see serialKey) by issuer DN. */
  revoked?: Map<string, Set<string>>;
}

export type ClientCertCheck = (der: Uint8Array<ArrayBuffer>) => string | undefined;

/** Undefined when the policy has nothing to check. */
export function compileClientCertCheck(policy: ClientCertPolicy): ClientCertCheck | undefined {
  const sans = policy.subjectAltNames?.length ? new Set(policy.subjectAltNames) : undefined;
  const hashes = new Set(policy.certSha256 ?? []);
  const spkis = new Set(policy.spkiSha256 ?? []);
  const pinned = hashes.size > 0 || spkis.size > 0;
  const revoked = policy.revoked?.size ? policy.revoked : undefined;
  if (!sans && !pinned && !revoked) return undefined;

  return (der) => {
    let cert: X509Certificate;
    try {
      cert = new (x509().X509Certificate)(der);
    } catch (err) {
      return `unreadable client certificate: ${(err as Error).message}`;
    }
    if (sans) {
      const names = subjectAltNames(cert);
      if (!names.some((n) => sans.has(n))) {
        return (
          `no subject alternative name of the client certificate (${names.join(", ") || "none"}) is ` +
          `among subjectAltNames`
        );
      }
    }
    if (pinned) {
      const hash = hashes.size > 0 && hashes.has(createHash("sha256").update(der).digest("hex"));
      const spki =
        !hash &&
        spkis.size > 0 &&
        spkis.has(createHash("sha256").update(new Uint8Array(cert.publicKey.rawData)).digest("base64"));
      if (!hash && !spki)
        return "the client certificate matches neither verifyCertificateHash nor verifyCertificateSpki";
    }
    if (revoked?.get(cert.issuer)?.has(serialKey(cert.serialNumber))) {
      return `the client certificate (serial ${cert.serialNumber}) is revoked by its issuer's CRL`;
    }
    return undefined;
  };
}

/** Every SAN value, of the kinds Envoy's SAN matchers look at. */
export function subjectAltNames(cert: X509Certificate): string[] {
  const san = cert.getExtension(x509().SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items
    .filter((n) => n.type === "dns" || n.type === "url" || n.type === "email" || n.type === "ip")
    .map((n) => n.value);
}

/** Serial numbers compare as integers: lower-case hex without leading zeros. */
export function serialKey(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, "");
}
