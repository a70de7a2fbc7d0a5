// The access-log record of one HTTP request (observe/records.ts), filled along the request path
// and completed by the adapter's responseEnd event. Only made when a traffic observer is
// configured: without one the request path carries `undefined` and does no record work.

import type { ConnectionInfo, ProxyRequest, ResponseEnd } from "../listeners/_shared/types.ts";
import type { RequestRecord, ResponseFlag } from "../observe/records.ts";
import { trustedClientAddress } from "./forwarded.ts";
import { peerIdentity } from "./xfcc.ts";
import {
  NoHealthyUpstreamError,
  UpstreamOverflowError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from "../util/errors.ts";
import { classifyError } from "../util/runtime-error.ts";

/** Records waiting for their response to end, keyed by the Response the handler returned. */
const pending = new WeakMap<Response, RequestRecord>();

/** `trustedHops`: the listener's numTrustedProxies, which names the client the log shows. */
export function newRecord(
  listener: string,
  req: ProxyRequest,
  conn: ConnectionInfo,
  trustedHops: number,
): RequestRecord {
  const forwardedFor = req.headers.get("x-forwarded-for");
  const tls = conn.tls;
  const peer = tls?.peer ? peerIdentity(tls.peer) : undefined;
  const length = req.headers.get("content-length");
  return {
    startTime: Date.now(),
    listener,
    sni: tls?.serverName || undefined,
    protocol: conn.protocol ?? (tls?.alpn === "h2" ? "HTTP/2" : "HTTP/1.1"),
    method: req.method,
    authority: "",
    path: "",
    status: 0,
    flags: [],
    // The declared length: Bun.serve and the Fetch bridge give no count of body bytes read
    // without wrapping every request body (a chunked body without a length counts 0). A body
    // the proxy reads whole (retries, mirrors) is counted exactly (proxy.ts).
    bytesReceived: length === null ? 0 : Number(length) || 0,
    bytesSent: 0,
    durationMs: 0,
    upstreamHost: undefined,
    upstreamService: undefined,
    upstreamServiceTimeMs: undefined,
    retries: 0,
    requestId: undefined,
    route: undefined,
    vhost: undefined,
    peerSubject: peer?.subject,
    peerUriSan: peer?.uriSan,
    remoteAddress: trustedClientAddress(forwardedFor, conn.remoteAddress, trustedHops),
    directRemoteAddress: conn.remoteAddress,
    userAgent: req.headers.get("user-agent") ?? undefined,
    forwardedFor: forwardedFor ?? undefined,
  };
}

/** Adds a flag once. */
export function flag(rec: RequestRecord | undefined, f: ResponseFlag): void {
  if (rec !== undefined && !rec.flags.includes(f)) rec.flags.push(f);
}

/**
 * The flag of a request-time failure, in Envoy's terms: a connect failure UF, a reset or close
 * UC, a timeout UT, circuit breaking UO, no healthy endpoint UH.
 */
export function flagError(rec: RequestRecord | undefined, err: unknown): void {
  if (rec === undefined) return;
  if (err instanceof UpstreamTimeoutError) return flag(rec, "UT");
  if (err instanceof NoHealthyUpstreamError) return flag(rec, "UH");
  if (err instanceof UpstreamOverflowError) return flag(rec, "UO");
  if (err instanceof UpstreamUnavailableError) {
    const kind = classifyError(err.cause).kind;
    flag(rec, kind === "connection-closed" ? "UC" : "UF");
  }
}

/** `res`, with `f` flagged on the record: for the answers made before or instead of routing. */
export function flagged(rec: RequestRecord | undefined, f: ResponseFlag, res: Response): Response {
  flag(rec, f);
  return res;
}

/** The try that answered (or failed last): "address:port" from the origin it was sent to. */
export function upstreamTried(rec: RequestRecord, origin: string, service: string): void {
  const at = origin.indexOf("://");
  const rest = at < 0 ? origin : origin.slice(at + 3);
  const slash = rest.indexOf("/");
  rec.upstreamHost = slash < 0 ? rest : rest.slice(0, slash);
  rec.upstreamService = service;
}

/**
 * The handler's final response carries `rec` until the adapter reports its end. `status`: what
 * the client gets (101 for a tunnel, whose placeholder Response says 200).
 */
export function awaitEnd(res: Response, rec: RequestRecord, status: number): void {
  rec.status = status;
  pending.set(res, rec);
}

/**
 * The adapter's responseEnd: completes the response's record and returns it (undefined for a
 * response without one). DC when the client left before the last byte (Envoy's
 * DownstreamConnectionTermination).
 */
export function endRecord(res: Response, end: ResponseEnd): RequestRecord | undefined {
  const rec = pending.get(res);
  if (rec === undefined) return undefined;
  pending.delete(res);
  rec.bytesSent = end.bytesSent;
  if (end.bytesReceived !== undefined) rec.bytesReceived = end.bytesReceived;
  if (end.clientClosed) flag(rec, "DC");
  // Envoy's %RESPONSE_CODE% is 0 when no response began: the client disconnected first.
  if (end.unanswered) rec.status = 0;
  rec.durationMs = Date.now() - rec.startTime;
  return rec;
}
