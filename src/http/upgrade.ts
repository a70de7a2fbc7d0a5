// An Upgrade request (WebSocket) on a proxy route, as Envoy forwards one: the same routing,
// rewrites, header operations, x-forwarded-* and XFCC as any request; the route timeout runs
// until the upstream answers; a 101 becomes a tunnel (listeners/_shared/tunnel.ts) that stays
// open until either side closes or no byte passes for the route's idleTimeout; any other answer
// goes back to the client as it is.

import { tunnelResponse } from "../listeners/_shared/tunnel.ts";
import type { ProxyAction } from "../provision/route-plan.ts";
import { connectionSettings } from "../upstream/connection-settings.ts";
import { upgradeUpstream, type UpgradeResult } from "../upstream/upgrade-client.ts";
import { UpstreamUnavailableError } from "../util/errors.ts";
import { pickWeighted } from "../util/random.ts";
import { applyHeaderOps } from "./header-ops.ts";
import { connectionListed } from "./hop-by-hop.ts";
import {
  failureReason,
  requestHeaders,
  responseHeaders,
  timeoutError,
  type ForwardRequest,
} from "./proxy.ts";
import { empty } from "./responses.ts";

/** `Connection: upgrade` with an `Upgrade` header (RFC 9110 §7.8). */
export function isUpgrade(req: Request): boolean {
  if (!req.headers.has("upgrade")) return false;
  return connectionListed(req.headers.get("connection"))?.has("upgrade") ?? false;
}

/**
 * A route with `websocket: false` answers 403 with no body, as Envoy does for an upgrade on a
 * route without upgrade_configs (source/common/http/conn_manager_impl.cc: "Do not allow
 * upgrades if the route does not support it", sendLocalReply(Code::Forbidden, "", ...) with
 * details upgrade_failed, and the connection is closed after it).
 */
export function refuseUpgrade(serverHeader: string): Response {
  return empty(403, serverHeader);
}

export async function forwardUpgrade(action: ProxyAction, f: ForwardRequest): Promise<Response> {
  const upstream = pickWeighted(action);
  if (upstream === undefined) throw new UpstreamUnavailableError("no destination has a weight above 0");
  const headers = requestHeaders(f, action.authority);
  if (upstream.requestOps) applyHeaderOps(headers, upstream.requestOps);
  if (action.requestOps) applyHeaderOps(headers, action.requestOps);
  const protocol = f.req.headers.get("upgrade")!;
  // Hop-by-hop headers were removed above; these two are the upgrade itself.
  headers.set("connection", "upgrade");
  headers.set("upgrade", protocol);

  const controller = new AbortController();
  const onClientAbort = () => controller.abort(f.req.signal.reason);
  f.req.signal.addEventListener("abort", onClientAbort, { once: true });
  let timedOut = false;
  const timer =
    action.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort(timeoutError(upstream.service, action.timeoutMs));
        }, action.timeoutMs)
      : undefined;
  const started = performance.now();
  let result: UpgradeResult;
  try {
    const url = upstream.origin + f.pathAndQuery;
    const r = { url, method: f.req.method, headers, body: null, signal: controller.signal };
    result = await upgradeUpstream(r, upstream.tls, connectionSettings(upstream.pool?.spec.connectionPool));
  } catch (err) {
    if (timedOut) throw timeoutError(upstream.service, action.timeoutMs, err);
    throw new UpstreamUnavailableError(failureReason(err), { cause: err });
  } finally {
    // The route timeout ends with the upstream's answer; the idle timeout takes over.
    clearTimeout(timer);
    f.req.signal.removeEventListener("abort", onClientAbort);
  }
  const elapsed = Math.round(performance.now() - started);
  if (!result.upgraded) {
    const res = result.res;
    const out = responseHeaders(res, elapsed, f.serverHeader);
    if (upstream.responseOps) applyHeaderOps(out, upstream.responseOps);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
  }
  const out = responseHeaders(new Response(null, { headers: result.headers }), elapsed, f.serverHeader);
  if (upstream.responseOps) applyHeaderOps(out, upstream.responseOps);
  return tunnelResponse(out, {
    upstream: result.socket,
    head: result.head,
    protocol: result.headers.get("upgrade") ?? protocol,
    idleTimeoutMs: action.idleTimeoutMs,
  });
}
