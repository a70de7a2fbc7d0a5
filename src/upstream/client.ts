// One factory for the upstream HTTP client of the runtime we are on. Bun's and Deno's fetch
// keep connections alive and stream both ways; Node's global fetch is ten times slower as a
// proxy client (RUNTIMES.md), so Node will get node:http with a keep-alive Agent (issue 3).

export interface UpstreamRequest {
  url: string;
  method: string;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  signal: AbortSignal;
}

export type UpstreamClient = (req: UpstreamRequest) => Promise<Response>;

export function createUpstreamClient(): UpstreamClient {
  return (r) =>
    fetch(r.url, {
      method: r.method,
      headers: r.headers,
      body: r.body,
      signal: r.signal,
      // A proxy passes redirects and encodings through untouched.
      redirect: "manual",
      // @ts-expect-error Bun-specific: without it Bun inflates gzip bodies and drops content-encoding.
      decompress: false,
      duplex: "half",
    });
}
