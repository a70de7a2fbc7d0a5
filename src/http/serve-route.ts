// What happens once a route is chosen, in Envoy's filter order: CORS (a preflight may be
// answered here) → fault injection (delay, abort) → the route's action (direct response,
// redirect, or proxy with rewrite, header operations, retries, mirrors) → the route's response
// header operations and CORS headers. A route without these features goes straight to its action.

import type { ConnectionInfo } from "../listeners/_shared/types.ts";
import type { FaultPlan, MatchInput, RouteAction, RoutePlan } from "../provision/route-plan.ts";
import type { UpstreamClients } from "../upstream/clients.ts";
import { addCorsHeaders, isPreflight, preflightResponse } from "./cors.ts";
import { errorResponse } from "./error-status.ts";
import { applyHeaderOps } from "./header-ops.ts";
import { forward } from "./proxy.ts";
import { empty } from "./responses.ts";
import { clientCertHeaders, xfccValue } from "./xfcc.ts";

/** `entry`: the index of the match entry that chose the route, -1 when it has no match list. */
export function serveRoute(
  route: RoutePlan,
  entry: number,
  m: MatchInput,
  conn: ConnectionInfo,
  serverHeader: string,
  clients: UpstreamClients,
): Response | Promise<Response> {
  if (route.cors === undefined && route.fault === undefined && route.responseOps === undefined) {
    return act(route.action, entry, m, conn, serverHeader, clients);
  }
  return serveWithPolicies(route, entry, m, conn, serverHeader, clients);
}

async function serveWithPolicies(
  route: RoutePlan,
  entry: number,
  m: MatchInput,
  conn: ConnectionInfo,
  serverHeader: string,
  clients: UpstreamClients,
): Promise<Response> {
  const cors = route.cors;
  let origin: string | null = null;
  if (cors) {
    const requestOrigin = m.req.headers.get("origin");
    if (requestOrigin) {
      const allowed = cors.allowOrigin(requestOrigin);
      if (allowed) origin = requestOrigin;
      if (isPreflight(m.req) && (allowed || !cors.forwardUnmatchedPreflights)) {
        return preflightResponse(cors, m.req, origin, serverHeader);
      }
    }
  }
  let res = route.fault ? await injectFault(route.fault, serverHeader) : undefined;
  if (res === undefined) {
    try {
      res = await act(route.action, entry, m, conn, serverHeader, clients);
    } catch (err) {
      // Envoy's router applies the route's response headers to its own error replies too.
      res = errorResponse(err, serverHeader);
    }
    if (route.responseOps) applyHeaderOps(res.headers, route.responseOps);
  }
  if (origin !== null) addCorsHeaders(res.headers, cors!, origin);
  return res;
}

function act(
  action: RouteAction,
  entry: number,
  m: MatchInput,
  conn: ConnectionInfo,
  serverHeader: string,
  clients: UpstreamClients,
): Response | Promise<Response> {
  switch (action.kind) {
    case "direct": {
      const headers: Record<string, string> = { "content-type": action.contentType };
      if (serverHeader) headers.server = serverHeader;
      return new Response(action.body, { status: action.status, headers });
    }
    case "redirect":
      return empty(action.status, serverHeader, { location: action.location(m) });
    case "proxy": {
      const peer = conn.tls?.peer;
      return forward(
        action,
        {
          req: m.req,
          scheme: m.scheme,
          authority: m.authority,
          pathAndQuery: action.rewritePath ? action.rewritePath(m, entry) : m.pathAndQuery,
          remoteAddress: conn.remoteAddress,
          xfcc: xfccValue(m.req.headers.get("x-forwarded-client-cert"), peer, m.clientCerts.xfcc),
          certHeaders: peer && m.clientCerts.headers ? clientCertHeaders(peer) : undefined,
          serverHeader,
        },
        clients,
      );
    }
  }
}

const roll = (percentage: number) => percentage >= 100 || Math.random() * 100 < percentage;

/**
 * Envoy's fault filter: the delay first, then the abort, each for its share of requests (Istio:
 * "If left unspecified, all requests will be delayed / aborted"). The delay does not count
 * against the route timeout, which starts when the request is forwarded.
 */
async function injectFault(f: FaultPlan, serverHeader: string): Promise<Response | undefined> {
  if (f.delayPercentage > 0 && roll(f.delayPercentage)) await new Promise((r) => setTimeout(r, f.delayMs));
  if (f.abortPercentage > 0 && roll(f.abortPercentage)) {
    const headers: Record<string, string> = { "content-type": "text/plain" };
    if (serverHeader) headers.server = serverHeader;
    const body = f.abortStatus === 204 || f.abortStatus === 205 || f.abortStatus === 304 ? null : "fault filter abort";
    return new Response(body, { status: f.abortStatus, headers });
  }
  return undefined;
}
