// Upstream client on Bun's own fetch: pooled keep-alive connections, streaming bodies both ways,
// and `decompress: false`, which a transparent proxy needs. Deno's fetch has no such switch (it
// inflates gzip bodies but keeps content-encoding: denoland/deno#12291), so Deno uses node:http.

import { attachTrailers } from "../util/trailers.ts";
import { createNodeClient } from "./node-client.ts";
import { verification } from "./verification.ts";
import type { UpstreamClient, UpstreamTls } from "./types.ts";

export function createBunFetchClient(tls: UpstreamTls | undefined): UpstreamClient {
  const tlsOptions = tls && {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    serverName: tls.serverName,
    ...verification(tls),
  };
  // fetch sends the WHATWG-parsed URL: `'` in the query becomes `%27`, dot segments and `\` in
  // the path are rewritten, and a path starting with "//" goes out as "/" (docs/runtimes.md).
  // A target fetch would change goes through node:http instead, which sends `path` as given.
  let exact: UpstreamClient | undefined;
  return (r) => {
    if (!fetchKeepsTarget(r.url)) return (exact ??= createNodeClient(tls))(r);
    return fetch(r.url, {
      method: r.method,
      headers: r.headers,
      body: r.body,
      signal: r.signal,
      // A proxy passes redirects and encodings through untouched.
      redirect: "manual",
      // @ts-expect-error Bun-specific options: `decompress: false` keeps gzip bodies and their
      // content-encoding as the upstream sent them; `tls` sets trust anchors and client certs.
      decompress: false,
      tls: tlsOptions,
      duplex: "half",
    }).then(lengthless);
  };
}

/**
 * fetch cannot read HTTP/1.1 trailers; a body without a length is still registered as having
 * none, so a node:http listener streams it as it is instead of inventing a content-length.
 */
function lengthless(res: Response): Response {
  if (res.body && !res.headers.has("content-length")) attachTrailers(res.body, Promise.resolve(undefined));
  return res;
}

/**
 * Unreserved and sub-delimiter characters, "/", "?", ":", "@" (RFC 3986 pchar and query without
 * "%"): the URL parser percent-encodes none of them in a path or an http(s) query.
 */
const PLAIN_TARGET = /^[A-Za-z0-9\-._~!$&()*+,;=:@/?]*$/;

/** Whether fetch sends the path and query of `url` (scheme://authority/...) unchanged. */
export function fetchKeepsTarget(url: string): boolean {
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  if (pathStart < 0) return true;
  const target = url.slice(pathStart);
  if (target.startsWith("//")) return false;
  // Most targets hold only characters WHATWG parsing leaves as they are, no dot segment and no
  // empty query: no URL to build for them (new URL per request showed in CPU profiles).
  if (PLAIN_TARGET.test(target) && !target.includes("/.") && !target.endsWith("?")) return true;
  const parsed = new URL(url);
  return parsed.pathname + parsed.search === target;
}
