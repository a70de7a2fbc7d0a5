// The runtime's floor for Portico's request path: a proxy of a few lines on the same server and
// upstream-client APIs Portico uses on Bun, run by the peer benchmark harness like Portico
// (scripts/bench-floor-candidate.sh). What these reach bounds what Portico can reach on them.
//
//   FLOOR=node-http2-fetch  node:http2 createSecureServer (allowHTTP1) + fetch: Portico's default
//                           path on Bun (the node-http2 adapter; raw request-target, WebSocket)
//   FLOOR=node-http2-hello  the same server answering by itself: the server API alone
//   FLOOR=bun-serve-fetch   Bun.serve({ tls, http2: true }) + fetch: what bun-sni's inner servers
//                           could reach without the loopback pipe
//
// Each copies the upstream's response headers but the hop-by-hop ones and adds
// x-envoy-upstream-service-time, as the peer harness's other proxies do. Env as the harness's
// candidate contract: PORT, MTLS_PORT, UPSTREAM, CERT, KEY, CA.
import { readFileSync } from "node:fs";
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const FLOOR = process.env.FLOOR ?? "node-http2-fetch";
const UPSTREAM = `http://${env("UPSTREAM")}`;
const cert = readFileSync(env("CERT"));
const key = readFileSync(env("KEY"));
const ca = readFileSync(env("CA"));
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"]);
const HELLO = Buffer.from('{"hello":"world"}');

async function upstream(method: string, path: string, host: string): Promise<Response> {
  return fetch(UPSTREAM + path, {
    method,
    headers: { host, "x-forwarded-proto": "https" },
    decompress: false,
  } as RequestInit);
}

async function nodeHandler(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
  if (FLOOR === "node-http2-hello") {
    res.writeHead(200, { "content-type": "application/json" }).end(HELLO);
    return;
  }
  const started = performance.now();
  const host = req.headers[":authority"] ?? req.headers.host ?? "";
  const r = await upstream(req.method, req.url, String(host));
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (!HOP.has(k)) headers[k] = v;
  });
  headers["x-envoy-upstream-service-time"] = String(Math.round(performance.now() - started));
  res.writeHead(r.status, headers).end(Buffer.from(await r.arrayBuffer()));
}

function nodeServer(port: number, mutual: boolean): void {
  const s = createSecureServer(
    { cert, key, allowHTTP1: true, ...(mutual ? { ca, requestCert: true, rejectUnauthorized: true } : {}) },
    (req, res) => void nodeHandler(req, res),
  );
  s.listen(port, "127.0.0.1");
}

function bunServer(port: number, mutual: boolean): void {
  Bun.serve({
    port,
    hostname: "127.0.0.1",
    tls: { cert, key, ...(mutual ? { ca, requestCert: true, rejectUnauthorized: true } : {}) },
    http2: true,
    async fetch(req) {
      const started = performance.now();
      const u = new URL(req.url);
      const r = await upstream(req.method, u.pathname + u.search, u.host);
      const headers = new Headers();
      for (const [k, v] of r.headers) if (!HOP.has(k)) headers.append(k, v);
      headers.set("x-envoy-upstream-service-time", String(Math.round(performance.now() - started)));
      return new Response(r.body, { status: r.status, headers });
    },
  });
}

const start = FLOOR === "bun-serve-fetch" ? bunServer : nodeServer;
start(Number(env("PORT")), false);
if (process.env.MTLS_PORT) start(Number(process.env.MTLS_PORT), true);
console.log(`bench-floor ${FLOOR} on ${process.env.PORT} and ${process.env.MTLS_PORT ?? "-"}`);
