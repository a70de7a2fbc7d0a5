// x-forwarded-client-cert in Envoy's format (Envoy docs: "x-forwarded-client-cert",
// config/http/http_conn_man/headers): `Hash=<sha256 hex>;Subject="<RFC 2253 DN>";URI=<uri SAN>;DNS=<dns SAN>`,
// keys separated by `;`, several URI/DNS keys allowed, values with `,;=` quoted.
// Istio's gateway forwards Hash, Subject, URI and DNS (SANITIZE_SET), which is what this builds.

import { X509Certificate, SubjectAlternativeNameExtension } from "@peculiar/x509";
import type { PeerCertificate } from "../listeners/types.ts";

const cache = new WeakMap<PeerCertificate, string>();

export function xfccFor(peer: PeerCertificate): string {
  let value = cache.get(peer);
  if (value === undefined) {
    value = buildXfcc(peer);
    cache.set(peer, value);
  }
  return value;
}

function buildXfcc(peer: PeerCertificate): string {
  const cert = new X509Certificate(peer.der);
  const parts = [`Hash=${peer.sha256}`, `Subject=${quote(rfc2253(cert))}`];
  const san = cert.getExtension(SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const uris = names.filter((n) => n.type === "url").map((n) => n.value);
  const dns = names.filter((n) => n.type === "dns").map((n) => n.value);
  // Envoy always writes the URI key when Subject/URI are requested, empty if there is none.
  if (uris.length === 0) parts.push("URI=");
  for (const u of uris) parts.push(`URI=${u}`);
  for (const d of dns) parts.push(`DNS=${d}`);
  return parts.join(";");
}

/**
 * The subject as OpenSSL's XN_FLAG_RFC2253 prints it, which is what Envoy uses: every entry in
 * reverse order (inside a multi-valued RDN too), RDNs joined by "," and their parts by "+"
 * (RFC 4514 §2.1).
 */
export function rfc2253(cert: X509Certificate): string {
  const rdns = cert.subjectName.toJSON();
  return rdns
    .slice()
    .reverse()
    .map((rdn) =>
      Object.entries(rdn)
        .flatMap(([type, values]) => values.map((v) => `${type}=${escapeDnValue(v)}`))
        .reverse()
        .join("+"),
    )
    .join(",");
}

function escapeDnValue(v: string): string {
  return v.replace(/([,+"\\<>;])/g, "\\$1").replace(/^([ #])/, "\\$1").replace(/ $/, "\\ ");
}

/** Envoy wraps the subject in quotes as is (conn_manager_utility.cc), escaping nothing. */
function quote(v: string): string {
  return `"${v}"`;
}
