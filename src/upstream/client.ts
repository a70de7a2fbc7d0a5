// One factory for the upstream HTTP client of the runtime we are on.
import { currentRuntime, type RuntimeName } from "../util/runtime.ts";
import { createBunFetchClient, createDenoFetchClient } from "./fetch-client.ts";
import { createNodeClient } from "./node-client.ts";
import type { UpstreamClient, UpstreamTls } from "./types.ts";

export type { UpstreamClient, UpstreamRequest, UpstreamTls } from "./types.ts";

export function createUpstreamClient(tls?: UpstreamTls, runtime: RuntimeName = currentRuntime()): UpstreamClient {
  switch (runtime) {
    case "bun":
      return createBunFetchClient(tls);
    case "deno":
      return createDenoFetchClient(tls);
    case "node":
      return createNodeClient(tls);
  }
}
