// Envoy's CORS filter (source/extensions/filters/http/cors/cors_filter.cc), per route: a
// preflight from an allowed origin is answered here; other requests go on, and their responses
// get the allow-origin, allow-credentials and expose-headers headers.
// https://istio.io/latest/docs/reference/config/networking/virtual-service/#CorsPolicy

import type { CorsPlan } from "../provision/route-plan.ts";
import { empty } from "./responses.ts";
import type { ProxyRequest } from "../listeners/_shared/types.ts";

/** OPTIONS with an Origin and a non-empty Access-Control-Request-Method. */
export function isPreflight(req: ProxyRequest): boolean {
  return req.method === "OPTIONS" && !!req.headers.get("access-control-request-method");
}

/** The 200 answer to a preflight; `origin` is null when it is not allowed (unmatchedPreflights: IGNORE). */
export function preflightResponse(
  cors: CorsPlan,
  req: ProxyRequest,
  origin: string | null,
  serverHeader: string,
): Response {
  const h: Record<string, string> = {};
  if (origin !== null) h["access-control-allow-origin"] = origin;
  if (cors.allowCredentials) h["access-control-allow-credentials"] = "true";
  // "*" echoes what the browser asks for, as Envoy does.
  const methods =
    cors.allowMethods === "*" ? (req.headers.get("access-control-request-method") ?? "") : cors.allowMethods;
  if (methods) h["access-control-allow-methods"] = methods;
  const headers =
    cors.allowHeaders === "*" ? (req.headers.get("access-control-request-headers") ?? "") : cors.allowHeaders;
  if (headers) h["access-control-allow-headers"] = headers;
  if (cors.maxAge) h["access-control-max-age"] = cors.maxAge;
  return empty(200, serverHeader, h);
}

/** For the response to a request whose Origin is allowed. */
export function addCorsHeaders(h: Headers, cors: CorsPlan, origin: string): void {
  h.set("access-control-allow-origin", origin);
  if (cors.allowCredentials) h.set("access-control-allow-credentials", "true");
  if (cors.exposeHeaders) h.set("access-control-expose-headers", cors.exposeHeaders);
}
