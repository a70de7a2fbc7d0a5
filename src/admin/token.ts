// The admin listener's access rule: on a loopback address it may stay open (Envoy's admin
// interface has no authentication and its docs say to keep it on localhost); anywhere else it
// needs a bearer token, and once a token is set every endpoint asks for it except /healthz and
// /ready, which say nothing but "up" and "ready" and which probes call without credentials.
//
// The token comes from the environment (PORTICO_ADMIN_TOKEN) only: a command-line flag shows in
// `ps` to every user, and a config file is shown by GET /config and kept in version control.

import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { AdminAddress } from "../config/admin-address.ts";
import { PorticoError } from "../util/errors.ts";
import type { ProxyRequest } from "../listeners/_shared/types.ts";

export const ADMIN_TOKEN_ENV = "PORTICO_ADMIN_TOKEN";

/** Endpoints a probe calls without credentials. */
const OPEN = new Set(["/healthz", "/ready"]);

/** A non-loopback admin address without a token: refused at startup. */
export class AdminExposedError extends PorticoError {}

/** The token, if the environment sets a non-empty one. */
export function adminToken(env: Record<string, string | undefined> = process.env): string | undefined {
  const token = env[ADMIN_TOKEN_ENV]?.trim();
  return token ? token : undefined;
}

export function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith("127.");
  const v6 = address.toLowerCase();
  return v6 === "::1" || /^::ffff:127\./.test(v6);
}

/** Throws when `where` (given as `field`) is reachable from other machines and no token is set. */
export function checkAdminExposure(where: AdminAddress, token: string | undefined, field: string): void {
  if (token !== undefined || isLoopback(where.address)) return;
  throw new AdminExposedError(
    `${field}: the admin listener on ${where.address} is not a loopback address; set ${ADMIN_TOKEN_ENV} ` +
      "(then every admin endpoint but /healthz and /ready needs Authorization: Bearer <token>), " +
      "or bind it to 127.0.0.1",
  );
}

/** `handler` behind the token: 401 without the right `Authorization: Bearer`, except OPEN paths. */
export function requireToken(
  handler: (req: ProxyRequest) => Response | Promise<Response>,
  token: string,
): (req: ProxyRequest) => Response | Promise<Response> {
  const want = digest(token);
  return (req) => {
    if (OPEN.has(pathOf(req.url))) return handler(req);
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.get("authorization") ?? "");
    // Digests of equal length, compared in constant time: the answer says nothing of the token.
    if (m && timingSafeEqual(digest(m[1]!), want)) return handler(req);
    return new Response("admin token required\n", {
      status: 401,
      headers: { "content-type": "text/plain", "www-authenticate": 'Bearer realm="portico-admin"' },
    });
  };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0) return "/";
  const end = url.slice(start).search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, start + end);
}
