// Upstream client on the runtime's own fetch (Bun, Deno): pooled keep-alive connections and
// streaming bodies both ways, measured as the fastest client on those runtimes (RUNTIMES.md).

import type { UpstreamClient, UpstreamTls } from "./types.ts";

type DenoLike = { createHttpClient(o: { caCerts?: string[]; cert?: string; key?: string }): unknown };

export function createBunFetchClient(tls: UpstreamTls | undefined): UpstreamClient {
  const tlsOptions = tls && { ca: tls.ca, cert: tls.cert, key: tls.key, serverName: tls.serverName };
  return (r) =>
    fetch(r.url, {
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
    });
}

export function createDenoFetchClient(tls: UpstreamTls | undefined): UpstreamClient {
  const Deno = (globalThis as unknown as { Deno: DenoLike }).Deno;
  // Deno.HttpClient holds the connection pool; one per service with its own TLS settings.
  // Deno cannot override the verified name (no serverName option); see the README table.
  const client = tls ? Deno.createHttpClient({ caCerts: tls.ca ? [tls.ca] : undefined, cert: tls.cert, key: tls.key }) : undefined;
  return (r) =>
    fetch(r.url, {
      method: r.method,
      headers: r.headers,
      body: r.body,
      signal: r.signal,
      redirect: "manual",
      // @ts-expect-error Deno-specific: `client` selects the pool with the TLS settings.
      client,
      duplex: "half",
    });
}
