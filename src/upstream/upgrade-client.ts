// The upstream side of an Upgrade (WebSocket): one new connection per upgrade (an upgraded
// connection never returns to a pool), node:http or node:https with the service's TLS settings.
// Their `upgrade` event gives the raw socket after a 101 and `response` any other answer, on
// Bun, Deno and Node alike (checked on all three); Bun's and Deno's fetch cannot upgrade.

import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { Readable } from "node:stream";
import { httpAgent, httpsAgent } from "./connection-agent.ts";
import type { UpstreamConnection, UpstreamRequest, UpstreamTls } from "./types.ts";
import { verification } from "./verification.ts";

export type UpgradeResult =
  | { upgraded: true; status: number; headers: Headers; socket: Duplex; head: Uint8Array }
  | { upgraded: false; res: Response };

/**
 * `connection`: the pool's connection settings; the connect timeout and keepalive apply to the
 * upgrade's own connection (through a one-use Agent), reuse and idleness do not (the route's
 * idleTimeout bounds an upgraded connection).
 */
export function upgradeUpstream(
  r: UpstreamRequest,
  tls: UpstreamTls | undefined,
  connection?: UpstreamConnection,
): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const url = new URL(r.url);
    const secure = url.protocol === "https:";
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of r.headers) headers[name] = value;
    const req = (secure ? httpsRequest : httpRequest)({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port,
      path: url.pathname + url.search,
      method: r.method,
      headers,
      agent: connection ? (secure ? httpsAgent : httpAgent)({ keepAlive: false }, connection) : false,
      // Without serverName, node:https sends the URL's host as SNI (not an IP) and checks it.
      ...(secure ? { ca: tls?.ca, cert: tls?.cert, key: tls?.key, ...verification(tls) } : {}),
      ...(secure && tls?.serverName ? { servername: tls.serverName } : {}),
    });
    const onAbort = () => {
      reject(r.signal.reason instanceof Error ? r.signal.reason : new Error("aborted"));
      req.destroy();
    };
    if (r.signal.aborted) return onAbort();
    r.signal.addEventListener("abort", onAbort, { once: true });
    const settled = () => r.signal.removeEventListener("abort", onAbort);
    req.on("upgrade", (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      settled();
      resolve({ upgraded: true, status: 101, headers: headersOf(res), socket, head });
    });
    req.on("response", (res: IncomingMessage) => {
      settled();
      const body = Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
      const status = res.statusCode ?? 502;
      const init = { status, statusText: res.statusMessage, headers: headersOf(res) };
      resolve({ upgraded: false, res: new Response(status === 204 || status === 304 ? null : body, init) });
    });
    req.on("error", (err) => {
      settled();
      reject(err);
    });
    req.end();
  });
}

function headersOf(res: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}
