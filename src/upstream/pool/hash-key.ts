// The key a consistent-hash pool hashes for one request, from Istio's ConsistentHashLB:
// httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName (Envoy's hash_policy).
import type { ConsistentHashKey } from "./types.ts";

export interface HashKey {
  /** Undefined when the request has none (no such header...): Envoy then picks a random host. */
  key?: string;
  /**
   * A `set-cookie` value for the response, when the cookie was missing and a ttl is given:
   * Envoy generates the cookie so the client's next requests stick (hash_policy.proto `ttl`).
   */
  setCookie?: string;
}

/** The key for `request` under `policy`; `clientIp` is the downstream address. */
/** What a hash key reads of a request (a Web Request, or the listeners' ProxyRequest). */
export interface KeyedRequest {
  readonly url: string;
  readonly headers: Headers;
}

export function hashKeyFor(policy: ConsistentHashKey, request: KeyedRequest, clientIp: string): HashKey {
  if ("header" in policy) return { key: request.headers.get(policy.header) ?? undefined };
  if ("sourceIp" in policy) return { key: clientIp };
  if ("queryParameter" in policy) {
    return { key: new URL(request.url).searchParams.get(policy.queryParameter) ?? undefined };
  }
  const { name, path, ttlMs } = policy.cookie;
  const value = readCookie(request.headers.get("cookie"), name);
  if (value !== undefined) return { key: value };
  if (ttlMs === undefined) return {};
  const generated = randomHex(16);
  return { key: generated, setCookie: setCookieValue(name, generated, path, ttlMs) };
}

/** `name=value; Max-Age=s; Path=p; HttpOnly`, as Envoy's makeSetCookieValue; ttl 0: a session cookie. */
export function setCookieValue(name: string, value: string, path: string | undefined, ttlMs: number): string {
  let out = `${name}=${value}`;
  if (ttlMs > 0) out += `; Max-Age=${Math.floor(ttlMs / 1000)}`;
  if (path) out += `; Path=${path}`;
  return `${out}; HttpOnly`;
}

/** The first cookie called `name` in a Cookie header, unquoted (Envoy's parseCookieValue). */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const v = part.slice(eq + 1).trim();
    return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
  }
  return undefined;
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
