// One factory for the upstream HTTP client of the runtime we are on (docs/runtimes.md, "Upstream clients").
import { currentRuntime, type RuntimeName } from "../util/runtime.ts";
import { createAlpnClient } from "./alpn-client.ts";
import { createBunFetchClient } from "./fetch-client.ts";
import { createH2Client } from "./h2-client.ts";
import { createNodeClient } from "./node-client.ts";
import type { UpstreamClient, UpstreamConnection, UpstreamProtocol, UpstreamTls } from "./types.ts";

export type { UpstreamClient, UpstreamConnection, UpstreamRequest, UpstreamTls } from "./types.ts";

/** `connection`: the pool's connection settings (connection-settings.ts); absent: none. */
export function createUpstreamClient(
  tls?: UpstreamTls,
  protocol?: UpstreamProtocol,
  runtime: RuntimeName = currentRuntime(),
  connection?: UpstreamConnection,
): UpstreamClient {
  // No runtime's fetch speaks HTTP/2 to an upstream as a proxy needs (Bun's has no h2 at all);
  // node:http2 does on all three.
  if (protocol === "http2") return createH2Client(tls, connection);
  // AUTO: each origin's ALPN choice decides which of the two clients carries its requests.
  if (protocol === "auto") {
    const http1 = createUpstreamClient(tls, undefined, runtime, connection);
    return createAlpnClient(tls, { h2: createH2Client(tls, connection), http1 });
  }
  switch (runtime) {
    case "bun":
      // Bun's fetch has no connect timeout, keepalive, reuse limit or idle timeout of its own to
      // set: a pool that sets any of them gets node:http, which Bun runs with real Agents.
      return connection ? createNodeClient(tls, connection) : createBunFetchClient(tls);
    // Deno's and Node's fetch both inflate compressed bodies with no way to turn it off, and
    // undici refuses `expect`: node:http with a keep-alive Agent forwards bytes as they come.
    case "deno":
    case "node":
      return createNodeClient(tls, connection);
  }
}
