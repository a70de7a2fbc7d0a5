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

/**
 * The parsed values of the Connection headers seen last. Nearly every message carries one of a
 * few values ("keep-alive", "close", "Upgrade"; Bun's fetch says keep-alive on every response),
 * so a lookup (2 ns) replaces a split and a new Set per message (70 ns). Bounded: a client that
 * sends a new value each time only refills it.
 */
const parsed = new Map<string, ReadonlySet<string> | undefined>();
const PARSED_MAX = 64;

/** Names listed in a Connection header are hop-by-hop for that message too. */
export function connectionListed(connection: string | null): ReadonlySet<string> | undefined {
  if (!connection) return undefined;
  const known = parsed.get(connection);
  if (known !== undefined || parsed.has(connection)) return known;
  const names = new Set<string>();
  for (const part of connection.split(",")) {
    const name = part.trim().toLowerCase();
    if (name) names.add(name);
  }
  const result = names.size > 0 ? names : undefined;
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(connection, result);
  return result;
}
