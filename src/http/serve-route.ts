// What happens once a route is chosen, in Envoy's filter order: CORS (a preflight may be
// answered here) → fault injection (delay, abort) → the route's action (direct response,
// redirect, or proxy with rewrite, header operations, retries, mirrors) → the route's response
// header operations and CORS headers. A route without these features goes straight to its action.

import type { ConnectionInfo, ProxyRequest } from "../listeners/_shared/types.ts";
import type { RequestRecord } from "../observe/records.ts";
import type { FaultPlan, MatchInput, RouteAction, RoutePlan } from "../provision/route-plan.ts";
import type { UpstreamClients } from "../upstream/clients.ts";
import type { UpstreamPools } from "../upstream/pools.ts";
import { chance } from "../util/random.ts";
import { addCorsHeaders, isPreflight, preflightResponse } from "./cors.ts";
import { errorResponse } from "./error-status.ts";
import { applyHeaderOps } from "./header-ops.ts";
import { forward } from "./proxy.ts";
import { flag, flagError } from "./request-record.ts";
import { forwardUpgrade, isUpgrade, refuseUpgrade } from "./upgrade.ts";
import { empty, ownResponse, plainText } from "./responses.ts";
import { clientCertHeaders, xfccValue } from "./xfcc.ts";
import { trustedClientAddress } from "./forwarded.ts";

/**
 * A request on its way to the route that matched it: built once per routed request (beside the
 * MatchInput it already has), so the route's steps share one argument instead of six.
 */
export interface RouteRequest {
  m: MatchInput;
  /** The index of the match entry that chose the route, -1 when it has no match list. */
  entry: number;
  conn: ConnectionInfo;
  serverHeader: string;
  clients: UpstreamClients;
  pools: UpstreamPools;
  /** The request's access-log record, when traffic is observed (request-record.ts). */
  rec: RequestRecord | undefined;
  /** The request body limit in bytes (the route's or the listener's); 0 or undefined: none. */
  maxBody: number | undefined;
}

export function serveRoute(route: RoutePlan, r: RouteRequest): Response | Promise<Response> {
  if (route.cors === undefined && route.fault === undefined && route.responseOps === undefined) {
    return act(route.action, r);
  }
  return withPolicies(route, r.m.req, r.serverHeader, r.rec, () => act(route.action, r));
}

/** The route's CORS, fault and response header policies around `run`, the route's action. */
async function withPolicies(
  route: RoutePlan,
  req: ProxyRequest,
  serverHeader: string,
  rec: RequestRecord | undefined,
  run: () => Response | Promise<Response>,
): Promise<Response> {
  const cors = route.cors;
  let origin: string | null = null;
  if (cors) {
    const requestOrigin = req.headers.get("origin");
    if (requestOrigin) {
      const allowed = cors.allowOrigin(requestOrigin);
      if (allowed) origin = requestOrigin;
      if (isPreflight(req) && (allowed || !cors.forwardUnmatchedPreflights)) {
        return preflightResponse(cors, req, origin, serverHeader);
      }
    }
  }
  let res = route.fault ? await injectFault(route.fault, serverHeader, rec) : undefined;
  if (res === undefined) {
    try {
      res = await run();
    } catch (err) {
      flagError(rec, err);
      // Envoy's router applies the route's response headers to its own error replies too.
      res = errorResponse(err, serverHeader);
    }
    if (route.responseOps) applyHeaderOps(res.headers, route.responseOps);
  }
  if (origin !== null) addCorsHeaders(res.headers, cors!, origin);
  return res;
}

function act(action: RouteAction, r: RouteRequest): Response | Promise<Response> {
  const { m, conn, serverHeader } = r;
  switch (action.kind) {
    case "direct":
      return ownResponse(action.status, action.body, serverHeader, { "content-type": action.contentType });
    case "redirect":
      return empty(action.status, serverHeader, { location: action.location(m) });
    case "proxy": {
      const peer = conn.tls?.peer;
      const upgrade = isUpgrade(m.req);
      if (upgrade && !action.upgrades) return refuseUpgrade(serverHeader);
      // Only an adapter that can hand over the connection sets conn.upgrade; elsewhere (an
      // adapter select.ts would not pick for such a route) the request goes as an ordinary one.
      const f = {
        req: m.req,
        scheme: m.scheme,
        authority: m.authority,
        pathAndQuery: action.rewritePath ? action.rewritePath(m, r.entry) : m.pathAndQuery,
        remoteAddress: conn.remoteAddress,
        clientAddress: trustedClientAddress(
          m.req.headers.get("x-forwarded-for"),
          conn.remoteAddress,
          m.trust.numTrustedProxies,
        ),
        trust: m.trust,
        xfcc: xfccValue(m.req.headers.get("x-forwarded-client-cert"), peer, m.clientCerts.xfcc),
        certHeaders: peer && m.clientCerts.headers ? clientCertHeaders(peer) : undefined,
        serverHeader,
        rec: r.rec,
        maxBody: r.maxBody,
      };
      return upgrade && conn.upgrade
        ? forwardUpgrade(action, f, r.pools)
        : forward(action, f, r.clients, r.pools);
    }
  }
}

/**
 * Envoy's fault filter: the delay first, then the abort, each for its share of requests (Istio:
 * "If left unspecified, all requests will be delayed / aborted"). The delay does not count
 * against the route timeout, which starts when the request is forwarded.
 */
async function injectFault(
  f: FaultPlan,
  serverHeader: string,
  rec: RequestRecord | undefined,
): Promise<Response | undefined> {
  if (f.delayPercentage > 0 && chance(f.delayPercentage)) {
    flag(rec, "DI");
    await new Promise((r) => setTimeout(r, f.delayMs));
  }
  if (f.abortPercentage > 0 && chance(f.abortPercentage)) {
    flag(rec, "FI");
    return plainText(f.abortStatus, f.abortBody, serverHeader);
  }
  return undefined;
}
