// An Upgrade request (WebSocket) on a proxy route, as Envoy forwards one: the same routing,
// rewrites, header operations, x-forwarded-* and XFCC as any request; the route timeout runs
// until the upstream answers; a 101 becomes a tunnel (listeners/_shared/tunnel.ts) that stays
// open until either side closes or no byte passes for the route's idleTimeout; any other answer
// goes back to the client as it is.

import { tunnelResponse } from "../listeners/_shared/tunnel.ts";
import type { ProxyAction } from "../provision/route-plan.ts";
import { connectionSettings } from "../upstream/connection-settings.ts";
import { upgradeUpstream, type UpgradeResult } from "../upstream/upgrade-client.ts";
import type { UpstreamPools } from "../upstream/pools.ts";
import { PorticoError, UpstreamUnavailableError } from "../util/errors.ts";
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
import { failureOutcome, PoolTries, type PoolTry } from "./pool-tries.ts";
import { upstreamTried } from "./request-record.ts";
import { empty } from "./responses.ts";
import { classifyFailure } from "./retry.ts";
import type { ProxyRequest } from "../listeners/_shared/types.ts";

/** `Connection: upgrade` with an `Upgrade` header (RFC 9110 §7.8). */
export function isUpgrade(req: ProxyRequest): boolean {
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

/**
 * A pooled service's upgrade takes one endpoint as a request's try does (pool-tries.ts): admitted
 * by the circuit breaker, picked with the hash key, its outcome reported; the slot is held for as
 * long as the tunnel is open, as Envoy counts an upgraded stream as an active request. There are
 * no retries: the client's handshake cannot be sent twice.
 */
export async function forwardUpgrade(
  action: ProxyAction,
  f: ForwardRequest,
  pools: UpstreamPools,
): Promise<Response> {
  const upstream = pickWeighted(action);
  if (upstream === undefined) throw new UpstreamUnavailableError("no destination has a weight above 0");
  const tries = upstream.pool
    ? new PoolTries(pools.for(upstream.pool.spec), upstream.pool, f.req, f.clientAddress, true)
    : undefined;
  const headers = requestHeaders(f, action.authority);
  if (upstream.requestOps) applyHeaderOps(headers, upstream.requestOps);
  if (action.requestOps) applyHeaderOps(headers, action.requestOps);
  const protocol = f.req.headers.get("upgrade")!;
  // Hop-by-hop headers were removed above; these two are the upgrade itself.
  headers.set("connection", "upgrade");
  headers.set("upgrade", protocol);
  const rec = f.rec;
  if (rec) rec.requestId = headers.get("x-request-id") ?? undefined;

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
  let attempt: PoolTry | undefined;
  try {
    if (tries) {
      attempt = await tries.start(tries.admit(false)!, action.timeoutMs, controller.signal);
      if (!attempt) throw timeoutError(upstream.service, action.timeoutMs);
    }
    const origin = attempt?.origin ?? upstream.origin;
    if (rec) upstreamTried(rec, origin, upstream.service);
    const url = origin + f.pathAndQuery;
    const r = { url, method: f.req.method, headers, body: null, signal: controller.signal };
    result = await upgradeUpstream(r, upstream.tls, connectionSettings(upstream.pool?.spec.connectionPool));
  } catch (err) {
    if (attempt) {
      attempt.report(timedOut ? "timeout" : failureOutcome(classifyFailure(err)));
      attempt.release();
    }
    if (timedOut) throw timeoutError(upstream.service, action.timeoutMs, err);
    if (err instanceof PorticoError) throw err;
    throw new UpstreamUnavailableError(failureReason(err), { cause: err });
  } finally {
    // The route timeout ends with the upstream's answer; the idle timeout takes over.
    clearTimeout(timer);
    f.req.signal.removeEventListener("abort", onClientAbort);
  }
  const elapsed = Math.round(performance.now() - started);
  if (rec) rec.upstreamServiceTimeMs = elapsed;
  if (!result.upgraded) {
    const res = result.res;
    attempt?.report(res.status);
    attempt?.release();
    const out = responseHeaders(res, elapsed, f.serverHeader);
    if (upstream.responseOps) applyHeaderOps(out, upstream.responseOps);
    if (tries?.setCookie) out.append("set-cookie", tries.setCookie);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
  }
  if (attempt) {
    attempt.report(101);
    const release = attempt.release;
    result.socket.once("close", () => release());
  }
  const out = responseHeaders(new Response(null, { headers: result.headers }), elapsed, f.serverHeader);
  if (upstream.responseOps) applyHeaderOps(out, upstream.responseOps);
  if (tries?.setCookie) out.append("set-cookie", tries.setCookie);
  return tunnelResponse(out, {
    upstream: result.socket,
    head: result.head,
    protocol: result.headers.get("upgrade") ?? protocol,
    idleTimeoutMs: action.idleTimeoutMs,
  });
}
