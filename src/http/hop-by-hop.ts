// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus those that are
// illegal in HTTP/2 (RFC 9113 §8.2.2). A proxy must not forward them in either direction.
// The list follows Caddy's reverseproxy `hopHeaders` and Envoy's connection-specific headers.

export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/** Names listed in a Connection header are hop-by-hop for that message too. */
export function connectionListed(connection: string | null): Set<string> | undefined {
  if (!connection) return undefined;
  const names = new Set<string>();
  for (const part of connection.split(",")) {
    const name = part.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names.size > 0 ? names : undefined;
}
