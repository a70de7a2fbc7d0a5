// Upstream client on Bun's own fetch: pooled keep-alive connections, streaming bodies both ways,
// and `decompress: false`, which a transparent proxy needs. Deno's fetch has no such switch (it
// inflates gzip bodies but keeps content-encoding: denoland/deno#12291), so Deno uses node:http.

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
