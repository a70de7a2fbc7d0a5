// Forwards one request to an upstream and streams the answer back, with the headers an Envoy
// ingress adds (docs/architecture.md, "An HTTP request, step by step").

import { RequestBodyTooLargeError, UpstreamTimeoutError, UpstreamUnavailableError } from "../util/errors.ts";
import type { RequestRecord } from "../observe/records.ts";
import type { ProxyAction, RetryPlan, Upstream } from "../provision/plan.ts";
import type { ForwardTrust } from "../provision/route-plan.ts";
import type { UpstreamClients } from "../upstream/clients.ts";
import type { Ticket } from "../upstream/pool/circuit-breaker.ts";
import type { UpstreamPools } from "../upstream/pools.ts";
import type { UpstreamClient } from "../upstream/types.ts";
import { grpcTimeoutMs, isGrpc } from "./grpc.ts";
import { applyHeaderOps } from "./header-ops.ts";
import { HOP_BY_HOP, connectionListed } from "./hop-by-hop.ts";
import { shadow } from "./mirror.ts";
import { failureOutcome, PoolTries, releasedAfterBody } from "./pool-tries.ts";
import { bodyStream, replayable } from "./replay.ts";
import { LimitedBody } from "./body-limit.ts";
import { flag, upstreamTried } from "./request-record.ts";
import { backoffMs, classifyFailure, retriableFailure, retriableResponse, type TryFailure } from "./retry.ts";
import { classifyError } from "../util/runtime-error.ts";
import { pickWeighted } from "../util/random.ts";
import { CLIENT_CERT_HEADERS } from "./xfcc.ts";
import { EXTERNAL_STRIPPED, setForwardingHeaders } from "./forwarded.ts";
import type { ProxyRequest } from "../listeners/_shared/types.ts";

export interface ForwardRequest {
  req: ProxyRequest;
  /** "http" or "https": what the client used to reach us. */
  scheme: string;
  /** Host[:port] as the client sent it. */
  authority: string;
  /** Path and query to send: as sent, or as the route rewrote it. */
  pathAndQuery: string;
  /** The connection's peer address. */
  remoteAddress: string;
  /** The client's address as far as `trust` lets it be known (forwarded.ts). */
  clientAddress: string;
  /** What the listener believes of the client's x-forwarded-* and x-request-id (forwarded.ts). */
  trust: ForwardTrust;
  /** Envoy-format client certificate details, for mutual TLS connections. */
  xfcc: string | undefined;
  /** x-client-cert-* headers, when the listener asks for them and the client sent a certificate. */
  certHeaders?: readonly (readonly [string, string])[];
  serverHeader: string;
  /** The request's access-log record, when traffic is observed. */
  rec?: RequestRecord | undefined;
  /** Request body limit (body-limit.ts); a declared length was checked already. 0/undefined: none. */
  maxBody?: number | undefined;
}

/**
 * Client-set headers that do not travel: XFCC only the proxy may set (Envoy sanitizes it by
 * default); `expect` is answered here (the server sends 100 Continue), as Envoy does.
 */
const SANITIZED = new Set(["x-forwarded-client-cert", "expect", ...CLIENT_CERT_HEADERS]);

export async function forward(
  routeAction: ProxyAction,
  f: ForwardRequest,
  clients: UpstreamClients,
  pools: UpstreamPools,
): Promise<Response> {
  // A gRPC deadline replaces the route timeout, capped by it (grpc.ts).
  const action = isGrpc(f.req)
    ? { ...routeAction, timeoutMs: grpcTimeoutMs(f.req, routeAction.timeoutMs) }
    : routeAction;
  const upstream = pickWeighted(action);
  // The loader refuses routes whose weights are all 0; only a hand-built plan gets here.
  if (upstream === undefined) throw new UpstreamUnavailableError("no destination has a weight above 0");
  const client = clients.for(upstream);
  const headers = requestHeaders(f, action.authority);
  const rec = f.rec;
  // Destination-level operations first, then the route's (Envoy applies the enclosing level last).
  if (upstream.requestOps) applyHeaderOps(headers, upstream.requestOps);
  if (action.requestOps) applyHeaderOps(headers, action.requestOps);
  if (rec) rec.requestId = headers.get("x-request-id") ?? undefined;
  const { req } = f;
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;
  // A pooled service: every try picks an endpoint (pool-tries.ts); a direct one has one origin.
  const target: Target = upstream.pool
    ? new PoolTries(
        pools.for(upstream.pool.spec),
        upstream.pool,
        req,
        f.clientAddress,
        action.retry?.ignorePreviousHosts ?? true,
      )
    : upstream.origin;

  // Retries and mirrors send the body more than once, so it is read first, up to a limit;
  // a bigger or unsized body streams once (undefined), without retries or mirrors (Envoy
  // likewise gives up retrying and shadowing a request that overflows its buffer).
  const replay = action.retry !== undefined || action.mirrors !== undefined;
  const body = !hasBody ? null : replay ? await replayable(req) : undefined;
  // A body read whole is counted as read; a streamed one keeps its declared length (records).
  if (rec && body) rec.bytesReceived = body.byteLength;
  if (action.mirrors && body !== undefined) {
    shadow(action.mirrors, req.method, f.pathAndQuery, headers, body, action.timeoutMs, clients, pools);
  }
  let done: Exchanged;
  if (action.retry && body !== undefined) {
    done = await withRetries(
      action,
      action.retry,
      upstream,
      client,
      target,
      f.pathAndQuery,
      req,
      headers,
      body,
      rec,
    );
  } else {
    // A body without a declared length is counted as it streams (body-limit.ts).
    const limited =
      f.maxBody && body === undefined && req.body !== null && !req.headers.has("content-length")
        ? new LimitedBody(req.body, f.maxBody)
        : undefined;
    const stream = body === undefined ? (limited?.stream ?? req.body) : bodyStream(body);
    const send = { client, method: req.method, headers, service: upstream.service, rec };
    const a = await sendTry(send, target, undefined, f.pathAndQuery, stream, req.signal, action.timeoutMs);
    if (a.failure !== undefined && limited?.exceeded)
      throw new RequestBodyTooLargeError(`request body over ${f.maxBody} bytes`, { cause: a.error });
    if (a.failure !== undefined) throw failureError(a, upstream.service, action.timeoutMs);
    done = a;
  }
  const { res, elapsed } = done;
  const out = responseHeaders(res, elapsed, f.serverHeader);
  if (upstream.responseOps) applyHeaderOps(out, upstream.responseOps);
  if (typeof target !== "string" && target.setCookie) out.append("set-cookie", target.setCookie);
  const response = new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
  if (!done.release) return response;
  // A HEAD answer's body is never read (app.ts drops it): its slot is free now.
  if (req.method === "HEAD") {
    done.release();
    return response;
  }
  return releasedAfterBody(response, done.release);
}

/** Where tries go: one origin, or the endpoints of a pool. */
type Target = string | PoolTries;
/** `release`: a pooled try's circuit-breaker slot, to give back once the response is done with. */
type Exchanged = { res: Response; elapsed: number; failure?: undefined; release?: () => void };
type Failed = { failure: TryFailure; error: unknown };

/** What every try of one request sends alike. */
interface Send {
  client: UpstreamClient;
  method: string;
  headers: Headers;
  service: string;
  rec: RequestRecord | undefined;
}

/**
 * One try at `target`: the origin itself, or an endpoint of the pool (admitted with `ticket`, or
 * now), with the outcome reported to the pool.
 */
async function sendTry(
  s: Send,
  target: Target,
  ticket: Ticket | undefined,
  pathAndQuery: string,
  body: ReadableStream<Uint8Array> | null,
  clientSignal: AbortSignal,
  timeoutMs: number,
): Promise<Exchanged | Failed> {
  const rec = s.rec;
  if (typeof target === "string") {
    if (rec) upstreamTried(rec, target, s.service);
    const a = await attempt(
      s.client,
      target + pathAndQuery,
      s.method,
      s.headers,
      body,
      clientSignal,
      timeoutMs,
      s.service,
    );
    if (rec && a.failure === undefined) rec.upstreamServiceTimeMs = a.elapsed;
    return a;
  }
  const started = performance.now();
  const t = await target.start(ticket ?? target.admit(false)!, timeoutMs, clientSignal);
  if (!t) return { failure: "timeout", error: timeoutError(s.service, timeoutMs) };
  if (rec) upstreamTried(rec, t.origin, s.service);
  const left = timeoutMs > 0 ? Math.max(1, Math.ceil(timeoutMs - (performance.now() - started))) : 0;
  const url = t.origin + pathAndQuery;
  const a = await attempt(s.client, url, s.method, s.headers, body, clientSignal, left, s.service);
  if (a.failure === undefined) {
    if (rec) rec.upstreamServiceTimeMs = a.elapsed;
    t.report(a.res.status);
    if (t.holdsBody) return { ...a, release: t.release };
    t.release();
    return a;
  }
  t.report(failureOutcome(a.failure));
  t.release();
  return a;
}

/** One exchange with the upstream, bounded by `timeoutMs` (0: none) up to response headers. */
async function attempt(
  client: UpstreamClient,
  url: string,
  method: string,
  headers: Headers,
  body: ReadableStream<Uint8Array> | null,
  clientSignal: AbortSignal,
  timeoutMs: number,
  service: string,
): Promise<Exchanged | Failed> {
  const controller = new AbortController();
  const onClientAbort = () => controller.abort(clientSignal.reason);
  clientSignal.addEventListener("abort", onClientAbort, { once: true });
  let timedOut = false;
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort(timeoutError(service, timeoutMs));
        }, timeoutMs)
      : undefined;
  const started = performance.now();
  try {
    const res = await client({ url, method, headers, body, signal: controller.signal });
    return { res, elapsed: Math.round(performance.now() - started) };
  } catch (error) {
    return { failure: timedOut ? "timeout" : classifyFailure(error), error };
  } finally {
    // The route timeout covers the wait for response headers; the body then streams freely.
    clearTimeout(timer);
    clientSignal.removeEventListener("abort", onClientAbort);
  }
}

function failureError(a: Failed, service: string, timeoutMs: number): Error {
  if (a.failure === "timeout") return timeoutError(service, timeoutMs, a.error);
  return new UpstreamUnavailableError(failureReason(a.error), { cause: a.error });
}

export function timeoutError(service: string, timeoutMs: number, cause?: unknown): UpstreamTimeoutError {
  const message = `no response from ${service} within ${timeoutMs} ms`;
  return new UpstreamTimeoutError(message, cause === undefined ? undefined : { cause });
}

/**
 * Tries until a response is not retriable, the attempts are used up, or the route timeout (which
 * covers every try, as Envoy's global timeout does) runs out. A per-try timeout counts as a 504.
 * A pooled retry needs a slot under maxRetries first; without one the last try's result stands
 * (Envoy's upstream_rq_retry_overflow).
 */
async function withRetries(
  action: ProxyAction,
  retry: RetryPlan,
  upstream: Upstream,
  client: UpstreamClient,
  target: Target,
  pathAndQuery: string,
  req: ProxyRequest,
  headers: Headers,
  body: Uint8Array<ArrayBuffer> | null,
  rec: RequestRecord | undefined,
): Promise<Exchanged> {
  const deadline = action.timeoutMs > 0 ? performance.now() + action.timeoutMs : Infinity;
  const perTry = retry.perTryTimeoutMs > 0 ? retry.perTryTimeoutMs : Infinity;
  const send = { client, method: req.method, headers, service: upstream.service, rec };
  let ticket: Ticket | undefined;
  for (let n = 0; ; n++) {
    if (rec) rec.retries = n;
    const remaining = deadline - performance.now();
    const limit = Math.min(perTry, remaining);
    const tryMs = limit === Infinity ? 0 : Math.max(1, Math.ceil(limit));
    const a = await sendTry(send, target, ticket, pathAndQuery, bodyStream(body), req.signal, tryMs);
    let more = n < retry.attempts && !req.signal.aborted;
    const retriable =
      a.failure === undefined ? retriableResponse(retry, a.res) : retriableFailure(retry, a.failure);
    if (more && retriable && typeof target !== "string") {
      ticket = target.admit(true);
      more = ticket !== undefined;
    }
    // Envoy's URX: the answer stands because the retry limit was reached.
    if (retriable && !more && n > 0) flag(rec, "URX");
    if (a.failure === undefined) {
      if (!more || !retriable) return a;
      discard(a.res);
      a.release?.();
    } else {
      const routeTimeout = a.failure === "timeout" && perTry >= remaining;
      if (routeTimeout) {
        ticket?.release();
        throw failureError(a, upstream.service, action.timeoutMs);
      }
      if (!more || !retriable) throw failureError(a, upstream.service, tryMs);
    }
    const wait = Math.min(backoffMs(n), deadline - performance.now());
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/** Frees the connection of a response nobody will read. */
function discard(res: Response): void {
  res.body?.cancel().catch(() => {});
}

export function requestHeaders(f: ForwardRequest, authority: string | undefined): Headers {
  const src = f.req.headers;
  const listed = connectionListed(src.get("connection"));
  const out = new Headers();
  for (const [name, value] of src) {
    const internal = EXTERNAL_STRIPPED.has(name);
    if (HOP_BY_HOP.has(name) || SANITIZED.has(name) || internal || listed?.has(name)) {
      // "te: trailers" is the one TE value that may travel (RFC 9113 §8.2.2).
      if (name === "te" && value.trim().toLowerCase() === "trailers") out.set("te", "trailers");
      continue;
    }
    out.append(name, value);
  }
  // Over h2 the authority arrives as a pseudo-header; upstreams get it as Host (Envoy keeps it),
  // unless the route rewrites it (rewrite.authority; x-forwarded-host keeps the original).
  out.set("host", authority ?? f.authority);
  setForwardingHeaders(out, src, f.remoteAddress, f.clientAddress, f.scheme, f.trust);
  out.set("x-forwarded-host", f.authority);
  if (f.xfcc !== undefined) out.set("x-forwarded-client-cert", f.xfcc);
  if (f.certHeaders) for (const [name, value] of f.certHeaders) out.set(name, value);
  return out;
}

export function responseHeaders(res: Response, elapsedMs: number, serverHeader: string): Headers {
  const listed = connectionListed(res.headers.get("connection"));
  const out = new Headers();
  for (const [name, value] of res.headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name) || name === "set-cookie") continue;
    out.append(name, value);
  }
  // Headers joins repeated values with ", ", which breaks Set-Cookie; copy those one by one.
  for (const cookie of res.headers.getSetCookie()) out.append("set-cookie", cookie);
  out.set("x-envoy-upstream-service-time", String(elapsedMs));
  if (serverHeader) out.set("server", serverHeader);
  else out.delete("server");
  return out;
}

/** Envoy's reset reason for the 503 body ("connection failure", "connection termination"). */
export function failureReason(err: unknown): string {
  const { kind, code, message } = classifyError(err);
  switch (kind) {
    case "refused-stream":
    case "connection-refused":
      return "connection failure, connection refused";
    case "connection-closed":
      return "connection termination";
    case "connect-timeout":
      return "connection timeout";
    default:
      return `connection failure, ${code || message || "unknown error"}`;
  }
}
