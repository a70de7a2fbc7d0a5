// A Web Request for a handler that needs the whole Fetch API (the admin's Hono app): the one
// Bun.serve passed, or one built from the lighter request node:http and node:http2 servers pass
// (node-request.ts). The proxy's own handler reads only what ProxyRequest has, and builds none.

import type { ProxyRequest } from "./types.ts";

export function webRequest(req: ProxyRequest): Request {
  if (req instanceof Request) return req;
  return new Request(req.url, {
    method: req.method,
    headers: req.headers,
    body: req.body,
    signal: req.signal,
    // A streamed body goes one way (Fetch's RequestInit.duplex, required with a stream body).
    ...(req.body ? { duplex: "half" } : {}),
  } as RequestInit);
}
