// Forwards one request to an upstream and streams the answer back, with the headers an Envoy
// ingress adds (DESIGN.md "Behaviour contracts").

import { UpstreamTimeoutError, UpstreamUnavailableError } from "../errors.ts";
import type { ProxyAction, Upstream } from "../provision/plan.ts";
import type { UpstreamClients } from "../upstream/clients.ts";
import { HOP_BY_HOP, connectionListed } from "./hop-by-hop.ts";

export interface ForwardRequest {
  req: Request;
  /** "http" or "https": what the client used to reach us. */
  scheme: string;
  /** Host[:port] as the client sent it. */
  authority: string;
  /** Path and query, as sent. */
  pathAndQuery: string;
  remoteAddress: string;
  /** Envoy-format client certificate details, for mutual TLS connections. */
  xfcc: string | undefined;
  serverHeader: string;
}

/**
 * Client-set headers that do not travel: XFCC only the proxy may set (Envoy sanitizes it by
 * default); `expect` is answered here (the server sends 100 Continue), as Envoy does.
 */
const SANITIZED = new Set(["x-forwarded-client-cert", "expect"]);

export async function forward(action: ProxyAction, f: ForwardRequest, clients: UpstreamClients): Promise<Response> {
  const upstream = pick(action);
  const client = clients.for(upstream);
  const headers = requestHeaders(f);
  const { req } = f;
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;

  const controller = new AbortController();
  const clientSignal = req.signal;
  const onClientAbort = () => controller.abort(clientSignal.reason);
  clientSignal.addEventListener("abort", onClientAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new UpstreamTimeoutError(`no response from ${upstream.service} within ${action.timeoutMs} ms`));
  }, action.timeoutMs);

  const started = performance.now();
  let res: Response;
  try {
    res = await client({
      url: upstream.origin + f.pathAndQuery,
      method: req.method,
      headers,
      body: hasBody ? req.body : null,
      signal: controller.signal,
    });
  } catch (err) {
    if (timedOut) throw new UpstreamTimeoutError(`no response from ${upstream.service} within ${action.timeoutMs} ms`, { cause: err });
    throw new UpstreamUnavailableError(failureReason(err), { cause: err });
  } finally {
    // The route timeout covers the wait for response headers; the body then streams freely.
    clearTimeout(timer);
    clientSignal.removeEventListener("abort", onClientAbort);
  }
  const elapsed = Math.round(performance.now() - started);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: responseHeaders(res, elapsed, f.serverHeader) });
}

function pick(action: ProxyAction): Upstream {
  const list = action.upstreams;
  if (list.length === 1) return list[0]!;
  let r = Math.random() * action.totalWeight;
  for (const u of list) {
    r -= u.weight;
    if (r < 0) return u;
  }
  return list[list.length - 1]!;
}

function requestHeaders(f: ForwardRequest): Headers {
  const src = f.req.headers;
  const listed = connectionListed(src.get("connection"));
  const out = new Headers();
  for (const [name, value] of src) {
    if (HOP_BY_HOP.has(name) || SANITIZED.has(name) || listed?.has(name)) {
      // "te: trailers" is the one TE value that may travel (RFC 9113 §8.2.2).
      if (name === "te" && value.trim().toLowerCase() === "trailers") out.set("te", "trailers");
      continue;
    }
    out.append(name, value);
  }
  // Over h2 the authority arrives as a pseudo-header; upstreams get it as Host (Envoy keeps it).
  out.set("host", f.authority);
  const xff = src.get("x-forwarded-for");
  if (f.remoteAddress) out.set("x-forwarded-for", xff ? `${xff}, ${f.remoteAddress}` : f.remoteAddress);
  out.set("x-forwarded-proto", f.scheme);
  out.set("x-forwarded-host", f.authority);
  if (!out.has("x-request-id")) out.set("x-request-id", crypto.randomUUID());
  if (f.xfcc !== undefined) out.set("x-forwarded-client-cert", f.xfcc);
  return out;
}

function responseHeaders(res: Response, elapsedMs: number, serverHeader: string): Headers {
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

function failureReason(err: unknown): string {
  // Each runtime words it differently: Bun sets code "ConnectionRefused", Node "ECONNREFUSED"
  // (on the cause), Deno only says "Connection refused (os error 111)" in the message.
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  const code = e?.code ?? e?.cause?.code ?? "";
  const text = `${code} ${e?.message ?? ""} ${e?.cause?.message ?? ""}`;
  if (/refused/i.test(text)) return "connection failure, connection refused";
  if (/reset|ConnectionClosed|closed/i.test(text)) return "connection termination";
  return `connection failure, ${code || e?.message || "unknown error"}`;
}
