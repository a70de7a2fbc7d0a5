// Upstream client on node:http(s) with a keep-alive Agent. Node's global fetch (undici) was about
// three times slower as a proxy client and rejects `expect` (docs/runtimes.md, "Upstream
// clients"), so Node gets this one.

import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { attachTrailers } from "../util/trailers.ts";
import { httpAgent, httpsAgent } from "./connection-agent.ts";
import { verification } from "./verification.ts";
import type { UpstreamClient, UpstreamConnection, UpstreamTls } from "./types.ts";

const NULL_BODY = new Set([101, 204, 205, 304]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

/**
 * `connection`: the pool's connection settings (connection-agent.ts applies them); without them
 * the Agents are plain keep-alive Agents.
 */
export function createNodeClient(
  tls: UpstreamTls | undefined,
  connection?: UpstreamConnection,
): UpstreamClient {
  const agentOptions = {
    keepAlive: true,
    // The keepalive idle time node:http sets on each pooled socket: tcpKeepalive.time when given.
    keepAliveMsecs: connection?.tcpKeepalive?.timeMs ?? 30_000,
    maxSockets: Infinity,
    scheduling: "lifo" as const,
  };
  const plainAgent = httpAgent(agentOptions, connection);
  const tlsAgent = httpsAgent(
    {
      ...agentOptions,
      ca: tls?.ca,
      cert: tls?.cert,
      key: tls?.key,
      servername: tls?.serverName,
      ...verification(tls),
    },
    connection,
  );

  return (r) =>
    new Promise<Response>((resolve, reject) => {
      // Only the origin goes through URL parsing: the path and query are sent byte for byte
      // (URL's pathname and search would re-encode them, `'` → `%27`).
      const pathStart = r.url.indexOf("/", r.url.indexOf("://") + 3);
      const url = new URL(pathStart < 0 ? r.url : r.url.slice(0, pathStart));
      const secure = url.protocol === "https:";
      const headers: OutgoingHttpHeaders = {};
      for (const [name, value] of r.headers) headers[name] = value;
      const req = (secure ? httpsRequest : httpRequest)(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ""),
          port: url.port,
          path: pathStart < 0 ? "/" : r.url.slice(pathStart),
          method: r.method,
          headers,
          agent: secure ? tlsAgent : plainAgent,
          // The name to verify follows SNI; without an override it is the URL's host.
          ...(secure && tls?.serverName ? { servername: tls.serverName } : {}),
        },
        (res) => resolve(toResponse(res, r.method)),
      );
      req.on("error", reject);
      // For the same reason, a request that is not idempotent is never replayed by Deno: the
      // upstream may have acted on it. (Node and Bun never replay.)
      if (!IDEMPOTENT.has(r.method)) req.once("socket", () => (req.reusedSocket = false));
      // Aborting by hand, and settling at once: on Deno, a request that reuses a keep-alive
      // socket neither honours `signal` nor errors on destroy(), so the route timeout would wait
      // for the upstream. Destroying the socket too frees the upstream request everywhere.
      const onAbort = () => {
        const reason = r.signal.reason instanceof Error ? r.signal.reason : new Error("aborted");
        // Deno's node:http re-sends a request whose reused keep-alive socket closes before a
        // response (maybeRetryRequest, denoland/deno#36786), even one destroyed on purpose;
        // this opts out. It is informational only on Node and Bun.
        req.reusedSocket = false;
        reject(reason);
        req.socket?.destroy();
        req.destroy(reason);
      };
      if (r.signal.aborted) return onAbort();
      r.signal.addEventListener("abort", onAbort, { once: true });
      req.once("close", () => r.signal.removeEventListener("abort", onAbort));
      if (!r.body) return void req.end();
      const body = Readable.fromWeb(r.body as unknown as import("node:stream/web").ReadableStream);
      // A request body that fails (the client's chunked framing turned out bad after the head was
      // forwarded, or the client left mid-body: a GOAWAY) aborts the upstream request. `pipe`
      // does not pass errors on: unhandled, this one ended the process on Node and Deno
      // (hostile-http1.test.ts, "a chunk-size line ends in a bare LF"; hostile-h2.test.ts, the
      // empty DATA flood). Not reused: Deno would replay the request on another socket.
      body.once("error", (err) => {
        req.reusedSocket = false;
        req.destroy(err);
      });
      body.pipe(req);
    });
}

function toResponse(res: IncomingMessage, method: string): Response {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const status = res.statusCode ?? 502;
  const empty = method === "HEAD" || NULL_BODY.has(status);
  if (empty) res.resume();
  const body = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
  // A body without a length (chunked) may end with trailers; registering them also keeps the
  // listener from inventing a content-length for it (util/trailers.ts).
  if (body && !headers.has("content-length")) attachTrailers(body, trailersAtEnd(res));
  return new Response(body, { status, statusText: res.statusMessage, headers });
}

function trailersAtEnd(res: IncomingMessage): Promise<Headers | undefined> {
  return new Promise((resolve) => {
    res.once("end", () => {
      const raw = res.rawTrailers;
      if (raw.length === 0) return resolve(undefined);
      const trailers = new Headers();
      for (let i = 0; i < raw.length; i += 2) trailers.append(raw[i]!, raw[i + 1]!);
      resolve(trailers);
    });
    res.once("close", () => resolve(undefined));
  });
}
