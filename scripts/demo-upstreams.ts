// Stand-ins for the book's `webapp` and `catalog` services, on loopback. Used by the bundled
// demo (`npm start`), the end-to-end tests and the benchmark. node:http and Express only, so it
// runs on Bun, Deno and Node alike.
//
// webapp  GET /api/catalog → the 357-byte compact JSON of the walkthrough
// catalog GET /items       → the same items pretty-printed (502 bytes), served by Express as the
//                            book's catalog is, so x-powered-by and the etag are Express's own
// both    GET /echo        → the request as the upstream saw it (method, url, headers), as JSON
//         GET /slow?ms=N   → answers after N ms (timeouts)
//         POST /upload     → streams the request body back
//         GET /gzip        → a gzip-encoded body (content-encoding must pass through)
//         GET /headers     → two set-cookie headers and hop-by-hop headers the proxy must drop

import express from "express";
import { gzipSync } from "node:zlib";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export const CATALOG_ITEMS = [
  { id: 1, color: "amber", department: "Eyewear", name: "Elinor Glasses", price: "282.00" },
  { id: 2, color: "cyan", department: "Clothing", name: "Atlas Shirt", price: "127.00" },
  { id: 3, color: "teal", department: "Clothing", name: "Small Metal Shoes", price: "232.00" },
  { id: 4, color: "red", department: "Watches", name: "Red Dragon Watch", price: "232.00" },
];
export const WEBAPP_BODY = JSON.stringify(CATALOG_ITEMS);
export const CATALOG_BODY = JSON.stringify(CATALOG_ITEMS, null, 2);
const JSON_TYPE = "application/json; charset=utf-8";

function common(req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? "/", "http://upstream");
  if (url.pathname === "/echo") {
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      httpVersion: req.httpVersion,
    });
    res.writeHead(200, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(body) });
    res.end(body);
    return true;
  }
  if (url.pathname === "/slow") {
    const ms = Math.min(Number(url.searchParams.get("ms") ?? "1000"), 30_000);
    const timer = setTimeout(() => res.end("slow\n"), ms);
    res.on("close", () => clearTimeout(timer));
    return true;
  }
  if (url.pathname === "/upload" && req.method === "POST") {
    res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/octet-stream" });
    req.pipe(res);
    return true;
  }
  if (url.pathname === "/gzip") {
    // A compressed body must reach the client byte for byte, with its content-encoding.
    const body = gzipSync(Buffer.from("compressed hello\n".repeat(100)));
    res.writeHead(200, {
      "content-type": "text/plain",
      "content-encoding": "gzip",
      "content-length": body.length,
    });
    res.end(body);
    return true;
  }
  if (url.pathname === "/headers") {
    res.setHeader("set-cookie", ["a=1; Path=/", "b=2; Path=/"]);
    res.setHeader("connection", "keep-alive, x-hop");
    res.setHeader("x-hop", "must not pass");
    res.setHeader("keep-alive", "timeout=5");
    res.setHeader("x-upstream", "yes");
    res.end("ok");
    return true;
  }
  return false;
}

function webapp(req: IncomingMessage, res: ServerResponse): void {
  if (common(req, res)) return;
  if (req.url === "/api/catalog" || req.url?.startsWith("/api/catalog?")) {
    res.writeHead(200, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(WEBAPP_BODY) });
    res.end(WEBAPP_BODY);
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("webapp: not found\n");
}

/** The book's catalog: Express with CORS for credentials and no-cache headers, JSON indented by 2. */
function catalogApp(): (req: IncomingMessage, res: ServerResponse) => void {
  const app = express();
  app.set("json spaces", 2);
  app.use((req, res, next) => {
    if (common(req, res)) return;
    res.vary("Origin");
    res.set({
      "access-control-allow-credentials": "true",
      "cache-control": "no-cache",
      pragma: "no-cache",
      expires: "-1",
    });
    next();
  });
  app.get("/items", (req, res) => {
    res.vary("Accept-Encoding");
    res.json(CATALOG_ITEMS);
  });
  app.use((req, res) => {
    res.status(404).type("text/plain").send("catalog: not found\n");
  });
  return app;
}

export interface DemoUpstreams {
  webappPort: number;
  catalogPort: number;
  close(): Promise<void>;
}

function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  port: number,
  host: string,
): Promise<Server> {
  const server = createServer({ keepAliveTimeout: 60_000 }, handler);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

export async function startDemoUpstreams(
  opts: { webappPort?: number; catalogPort?: number; host?: string } = {},
): Promise<DemoUpstreams> {
  const host = opts.host ?? "127.0.0.1";
  const w = await listen(webapp, opts.webappPort ?? 0, host);
  const c = await listen(catalogApp(), opts.catalogPort ?? 0, host);
  const port = (s: Server) => (s.address() as { port: number }).port;
  return {
    webappPort: port(w),
    catalogPort: port(c),
    close: async () => {
      for (const s of [w, c]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

if (import.meta.main) {
  const u = await startDemoUpstreams({
    webappPort: Number(process.env.WEBAPP_PORT ?? 9080),
    catalogPort: Number(process.env.CATALOG_PORT ?? 9081),
  });
  console.error(`demo upstreams: webapp on 127.0.0.1:${u.webappPort}, catalog on 127.0.0.1:${u.catalogPort}`);
}
