// x-forwarded-client-cert in Envoy's format and with Envoy's forwarding modes (Envoy docs:
// config/http/http_conn_man/headers "x-forwarded-client-cert", and HttpConnectionManager
// forward_client_cert_details / set_current_client_cert_details). Elements are separated by
// ",", keys inside one element by ";", in Envoy's order: By, Hash, Cert, Chain, Subject, URI, DNS.

import type { X509Certificate } from "../certs/x509.ts";
import { x509 } from "../certs/x509-loader.ts";
import { toPem } from "../certs/pem.ts";
import type { PeerCertificate } from "../listeners/_shared/types.ts";
import type { XfccPolicy } from "../provision/cert-forwarding.ts";

/**
 * The header value to send upstream, or undefined to send none. `incoming` is what the client
 * sent; `peer` the verified client certificate (mutual TLS), if any.
 */
export function xfccValue(
  incoming: string | null,
  peer: PeerCertificate | undefined,
  policy: XfccPolicy,
): string | undefined {
  switch (policy.mode) {
    case "sanitize":
      return undefined;
    case "always-forward-only":
      return incoming ?? undefined;
    case "forward-only":
      return peer ? (incoming ?? undefined) : undefined;
    case "append-forward":
      if (!peer) return undefined;
      return incoming ? `${incoming},${element(peer, policy)}` : element(peer, policy);
    case "sanitize-set":
      return peer ? element(peer, policy) : undefined;
  }
}

const cache = new WeakMap<PeerCertificate, { policy: XfccPolicy; value: string }>();

/** Computed once per connection (and policy): the certificate does not change mid-connection. */
function element(peer: PeerCertificate, policy: XfccPolicy): string {
  const hit = cache.get(peer);
  if (hit?.policy === policy) return hit.value;
  const value = buildElement(peer, policy);
  cache.set(peer, { policy, value });
  return value;
}

/** Plain headers for upstreams that do not parse XFCC; a client's own are always removed. */
export const CLIENT_CERT_HEADERS = [
  "x-client-cert-subject",
  "x-client-cert-sans",
  "x-client-cert-sha256",
] as const;

const plainCache = new WeakMap<PeerCertificate, [string, string][]>();

export function clientCertHeaders(peer: PeerCertificate): [string, string][] {
  let headers = plainCache.get(peer);
  if (!headers) {
    const cert = new (x509().X509Certificate)(peer.der);
    const names = cert.getExtension(x509().SubjectAlternativeNameExtension)?.names.items ?? [];
    const sans = names
      .filter((n) => n.type === "dns" || n.type === "url" || n.type === "ip" || n.type === "email")
      .map((n) => `${n.type === "url" ? "URI" : n.type.toUpperCase()}:${n.value}`);
    headers = [
      ["x-client-cert-subject", rfc2253(cert)],
      ["x-client-cert-sans", sans.join(",")],
      ["x-client-cert-sha256", peer.sha256],
    ];
    plainCache.set(peer, headers);
  }
  return headers;
}

function buildElement(peer: PeerCertificate, policy: XfccPolicy): string {
  const cert = new (x509().X509Certificate)(peer.der);
  const parts = policy.by.map((u) => `By=${u}`);
  parts.push(`Hash=${peer.sha256}`);
  const d = policy.details;
  if (d.has("cert")) parts.push(`Cert="${encodeURIComponent(pem(peer.der))}"`);
  if (d.has("chain"))
    parts.push(`Chain="${encodeURIComponent((peer.chain ?? [peer.der]).map(pem).join(""))}"`);
  if (d.has("subject")) parts.push(`Subject=${quote(rfc2253(cert))}`);
  const names = cert.getExtension(x509().SubjectAlternativeNameExtension)?.names.items ?? [];
  if (d.has("uri")) {
    const uris = names.filter((n) => n.type === "url").map((n) => n.value);
    // Envoy always writes the URI key when it is asked for, empty if there is none.
    if (uris.length === 0) parts.push("URI=");
    for (const u of uris) parts.push(`URI=${u}`);
  }
  if (d.has("dns")) for (const n of names.filter((n) => n.type === "dns")) parts.push(`DNS=${n.value}`);
  return parts.join(";");
}

const pem = (der: Uint8Array) => toPem("CERTIFICATE", der);

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
  return v
    .replace(/([,+"\\<>;])/g, "\\$1")
    .replace(/^([ #])/, "\\$1")
    .replace(/ $/, "\\ ");
}

/** Envoy wraps the subject in quotes as is (conn_manager_utility.cc), escaping nothing. */
function quote(v: string): string {
  return `"${v}"`;
}

const identityCache = new WeakMap<PeerCertificate, { subject: string; uriSan: string | undefined }>();

/**
 * The certificate's subject (RFC 2253, as Envoy's %DOWNSTREAM_PEER_SUBJECT%) and first URI SAN
 * (%DOWNSTREAM_PEER_URI_SAN%) for the access log: parsed once per connection, since the
 * PeerCertificate object is the connection's.
 */
export function peerIdentity(peer: PeerCertificate): { subject: string; uriSan: string | undefined } {
  let id = identityCache.get(peer);
  if (!id) {
    const cert = new (x509().X509Certificate)(peer.der);
    const names = cert.getExtension(x509().SubjectAlternativeNameExtension)?.names.items ?? [];
    id = { subject: rfc2253(cert), uriSan: names.find((n) => n.type === "url")?.value };
    identityCache.set(peer, id);
  }
  return id;
}
