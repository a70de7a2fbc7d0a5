// The HTTP side of one listener, as a plain request handler: virtual host → route (first match
// wins) → redirect | direct response | proxy. Reads only the provisioned Plan.
//
// Why not Hono here: routes follow Istio's rules (per virtual host, in order, first match wins,
// with header, query and regex matches), which Hono's router does not express, so Hono only
// wrapped this handler in app.all("*"). Measured on Bun, 2 shared cores, A/B back to back: in
// process, a direct-response request took 2.8-4.4 µs (best of 10 rounds; median 6.6-9.3)
// through Hono's app.fetch and 1.9-2.1 µs (median 3.5-4.5) as a plain handler. `npm run bench`
// (bun-sni, 5 s, 6 pairs) gave a median of 5.7k req/s for H1 over TLS either way, 8.2k (Hono)
// and 10.8k (plain) for H2, with runs from 2.7k to 14.6k: the machine's noise is larger than
// the difference. A layer that does no work and costs a little is dropped; Hono stays for the
// admin API (admin/app.ts), where it routes.

import type { ConnectionInfo, ProxyRequest, RequestHandler, TlsPolicy } from "../listeners/_shared/types.ts";
import { tunnelOf } from "../listeners/_shared/tunnel.ts";
import type { RequestRecord, TrafficObserver } from "../observe/records.ts";
import type {
  AcmeResponder,
  HttpsListenerPlan,
  ListenerPlan,
  MatchInput,
  TlsServerPlan,
} from "../provision/plan.ts";
import { HTTP01_PREFIX } from "../acme/challenges.ts";
import type { UpstreamClients } from "../upstream/clients.ts";
import { UpstreamPools } from "../upstream/pools.ts";
import { hostOnly } from "../util/host-table.ts";
import { normalizeTarget } from "../util/path-normalize.ts";
import { errorResponse } from "./error-status.ts";
import { grpcLocalReply, isGrpc } from "./grpc.ts";
import { connectionListed } from "./hop-by-hop.ts";
import { declaredTooLarge, payloadTooLarge } from "./body-limit.ts";
import { loadX509, x509Loaded } from "../certs/x509-loader.ts";
import { awaitEnd, flagError, flagged, newRecord } from "./request-record.ts";
import { refusal } from "./request-refusal.ts";
import { empty, isOwnResponse, ownResponse } from "./responses.ts";
import { serveRoute } from "./serve-route.ts";

export interface ListenerRef {
  /** Swapped whole on reload; requests in flight keep the plan they started with. */
  current: ListenerPlan;
  serverHeader: string;
}

async function acmeHttp01(responder: AcmeResponder, path: string, serverHeader: string): Promise<Response> {
  const answer = await responder.httpAnswer(path);
  if (answer === undefined) return empty(404, serverHeader);
  return ownResponse(200, answer, serverHeader, { "content-type": "application/octet-stream" });
}

/**
 * `pools`: the running pools of pooled services (a handler of its own starts them on first use).
 * `observer`: when there is one, each request gets a record (request-record.ts) that the
 * listener's responseEnd event completes; without one no record is made.
 */
export function createListenerHandler(
  ref: ListenerRef,
  clients: UpstreamClients,
  pools: UpstreamPools = new UpstreamPools(),
  observer?: TrafficObserver,
): RequestHandler {
  const observed = observer !== undefined;
  return async (req, conn, target) => {
    // A client certificate is parsed (XFCC, the access log) by the X.509 stack, loaded once, by
    // the first request that carries one (certs/x509-loader.ts).
    if (conn.tls?.peer !== undefined && !x509Loaded()) await loadX509();
    const rec = observed
      ? newRecord(ref.current.name, req, conn, ref.current.trust.numTrustedProxies)
      : undefined;
    let res: Response;
    try {
      res = await handle(ref, req, conn, clients, pools, target, rec);
    } catch (err) {
      flagError(rec, err);
      res = errorResponse(err, ref.serverHeader);
    }
    // A gRPC client reads grpc-status, not an HTTP error page (Envoy's local reply does the same).
    if (res.status !== 200 && isGrpc(req) && isOwnResponse(res)) res = await grpcLocalReply(res);
    // A HEAD answer has no body, whichever route made it (Hono's app.fetch did the same here).
    if (req.method === "HEAD") res = new Response(null, res);
    // RFC 9112 §9.6: a server that closes after this response because the client asked
    // (`Connection: close`) sends `close` too. node:http does; Bun.serve closed without saying so.
    // (Only HTTP/1.x requests carry a Connection header: RFC 9113 §8.2.2 forbids it in h2.)
    // A 413 leaves the rest of the body unread (body-limit.ts): the connection cannot carry on.
    if ((asksClose(req) || (res.status === 413 && isOwnResponse(res) && closing(conn))) && !tunnelOf(res))
      res.headers.set("connection", "close");
    if (rec) awaitEnd(res, rec, tunnelOf(res) ? 101 : res.status);
    return res;
  };
}

async function handle(
  ref: ListenerRef,
  req: ProxyRequest,
  conn: ConnectionInfo,
  clients: UpstreamClients,
  pools: UpstreamPools,
  target: string | undefined,
  rec: RequestRecord | undefined,
): Promise<Response> {
  const listener = ref.current;
  const serverHeader = ref.serverHeader;
  const parsed = splitUrl(req.url);
  const authority = parsed.authority;
  // The raw origin-form target when the adapter has it (absolute-form and "*" go by the URL).
  const raw = target !== undefined && target.charCodeAt(0) === 0x2f ? target : parsed.pathAndQuery;
  // Envoy refuses a target with a fragment (http_reject_path_with_fragment) and one its path
  // normalisation fails on (a %00), with 400 before any routing; matching and forwarding then
  // use the one normalised path, with the query as sent.
  if (rec) {
    rec.authority = authority;
    rec.path = raw;
  }
  // Envoy's DPE: the request was refused before routing (downstream protocol error). A client
  // that framed or addressed one request wrongly may frame the next one wrongly too: HTTP/1.1
  // connections are closed after the refusal, as Envoy closes them after a protocol error.
  const refused = refusal(req, authority);
  if (refused) return flagged(rec, "DPE", empty(refused, serverHeader, closing(conn)));
  const pathAndQuery = raw.includes("#") ? undefined : normalizeTarget(raw, listener.pathNormalization);
  if (pathAndQuery === undefined) return flagged(rec, "DPE", empty(400, serverHeader));
  const scheme = listener.kind;
  const host = hostOnly(authority);
  // RFC 8555 §8.3: the CA's GET for an http-01 token, on any Host, before redirects and routes.
  if (listener.kind === "http" && listener.acmeHttp01 !== undefined && pathAndQuery.startsWith(HTTP01_PREFIX))
    return acmeHttp01(listener.acmeHttp01, pathAndQuery, serverHeader);

  if (!listener.hosts.match(host)) return flagged(rec, "NR", empty(404, serverHeader));
  if (listener.kind === "https" && listener.anyMutual && misdirected(listener, host, conn))
    return flagged(rec, "DPE", empty(421, serverHeader));
  if (listener.kind === "http" && listener.httpsRedirectPort !== undefined) {
    const port = listener.httpsRedirectPort === 443 ? "" : `:${listener.httpsRedirectPort}`;
    return empty(301, serverHeader, { location: `https://${host}${port}${pathAndQuery}` });
  }

  const vhost = listener.vhosts.match(host);
  if (!vhost) return flagged(rec, "NR", empty(404, serverHeader));
  if (rec) rec.vhost = listener.vhosts.pattern(host);
  const q = pathAndQuery.indexOf("?");
  const m: MatchInput = {
    path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
    pathAndQuery,
    req,
    scheme,
    authority,
    port: listener.port,
    query: undefined,
    // A TLS server's own policy carries By= for its certificate.
    clientCerts:
      (listener.kind === "https" ? handshakeServer(listener, conn)?.clientCerts : undefined) ??
      listener.clientCerts,
    trust: listener.trust,
  };
  // First match wins, as in Istio; `entry` tells a rewrite which match entry it was.
  for (const route of vhost.routes) {
    const entry = route.match === null ? -1 : route.match(m);
    if (route.match === null || entry >= 0) {
      if (rec) rec.route = route.name;
      // The route's own body limit, else the listener's (0 and undefined: none).
      const maxBody = route.maxRequestBodyBytes ?? listener.limits.maxRequestBodyBytes;
      if (maxBody && req.body !== null && declaredTooLarge(req, maxBody))
        return payloadTooLarge(serverHeader);
      return serveRoute(route, { m, entry, conn, serverHeader, clients, pools, rec, maxBody });
    }
  }
  return flagged(rec, "NR", empty(404, serverHeader));
}

/**
 * With client auth on a port, the Host must select the same TLS server as the SNI did, or a
 * client could pass a SIMPLE host's handshake and then ask a MUTUAL host (Caddy and Envoy
 * answer 421 Misdirected Request, RFC 9110 §15.5.20).
 */
function misdirected(listener: HttpsListenerPlan, host: string, conn: ConnectionInfo): boolean {
  const byHost = listener.serverByHost.match(host);
  const bySni = handshakeServer(listener, conn);
  if (byHost === bySni && bySni !== undefined) return false;
  // A server that a reload removed or changed still asked what its policy says.
  const policy = conn.tls?.policy;
  const sniMode = bySni?.mode ?? (policy ? modeOf(policy) : "SIMPLE");
  // OPTIONAL_MUTUAL asks for a certificate too: its verified identity must not reach another host.
  return (byHost !== undefined && byHost.mode !== "SIMPLE") || sniMode !== "SIMPLE";
}

/**
 * The server of `listener` (the plan now) that the connection was handshaken under. A reload
 * may have added or removed servers in place since (RunningListener.updateTls), so the index it
 * had then is checked against its policy: the same hosts and mode, else the server is looked
 * up by its first host; undefined when the plan no longer has it.
 */
function handshakeServer(listener: HttpsListenerPlan, conn: ConnectionInfo): TlsServerPlan | undefined {
  const t = conn.tls;
  if (t === undefined) return undefined;
  const s = listener.servers[t.serverIndex];
  const p = t.policy;
  if (p === undefined || (s !== undefined && samePolicy(s, p))) return s;
  const moved = p.hosts[0] === undefined ? undefined : listener.serverByHost.match(p.hosts[0]);
  return moved !== undefined && samePolicy(moved, p) ? moved : undefined;
}

function samePolicy(s: TlsServerPlan, p: TlsPolicy): boolean {
  if (s.mode !== modeOf(p)) return false;
  if (s.hosts === p.hosts) return true;
  return s.hosts.length === p.hosts.length && s.hosts.every((h, i) => h === p.hosts[i]);
}

function modeOf(p: TlsPolicy): TlsServerPlan["mode"] {
  return p.requireClientCert ? "MUTUAL" : p.requestClientCert ? "OPTIONAL_MUTUAL" : "SIMPLE";
}

/** `connection: close` for a response on an HTTP/1.x connection (h2 has no such header). */
function closing(conn: ConnectionInfo): Record<string, string> | undefined {
  const h2 = conn.protocol === "HTTP/2" || (conn.protocol === undefined && conn.tls?.alpn === "h2");
  return h2 ? undefined : { connection: "close" };
}

function asksClose(req: ProxyRequest): boolean {
  const connection = req.headers.get("connection");
  return connection !== null && connectionListed(connection)?.has("close") === true;
}

/** Splits "scheme://authority/path?query" without building a URL object on the hot path. */
export function splitUrl(url: string): { scheme: string; authority: string; pathAndQuery: string } {
  const schemeEnd = url.indexOf("://");
  const authStart = schemeEnd + 3;
  let pathStart = url.indexOf("/", authStart);
  if (pathStart < 0) pathStart = url.length;
  return {
    scheme: url.slice(0, schemeEnd),
    authority: url.slice(authStart, pathStart),
    pathAndQuery: pathStart === url.length ? "/" : url.slice(pathStart),
  };
}
