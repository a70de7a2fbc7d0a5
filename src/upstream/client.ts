// One factory for the upstream HTTP client of the runtime we are on (docs/runtimes.md, "Upstream clients").
import { currentRuntime, type RuntimeName } from "../util/runtime.ts";
import { createBunFetchClient } from "./fetch-client.ts";
import { createNodeClient } from "./node-client.ts";
import type { UpstreamClient, UpstreamTls } from "./types.ts";

export type { UpstreamClient, UpstreamRequest, UpstreamTls } from "./types.ts";

export function createUpstreamClient(
  tls?: UpstreamTls,
  runtime: RuntimeName = currentRuntime(),
): UpstreamClient {
  switch (runtime) {
    case "bun":
      return createBunFetchClient(tls);
    // Deno's and Node's fetch both inflate compressed bodies with no way to turn it off, and
    // undici refuses `expect`: node:http with a keep-alive Agent forwards bytes as they come.
    case "deno":
    case "node":
      return createNodeClient(tls);
  }
}
