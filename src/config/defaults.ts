// The values a configuration gets for what it leaves out, in one place (routes.yaml, Istio
// documents and the command line all start from these).

import type { PathNormalization } from "../util/path-normalize.ts";

/** Envoy's default route timeout. */
export const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * How long an upgraded (WebSocket) connection may carry no byte either way: Envoy's default
 * stream_idle_timeout (5 min), which is what bounds an upgraded stream there once the route
 * timeout no longer does. A route's `idleTimeout` replaces it.
 */
export const DEFAULT_UPGRADE_IDLE_TIMEOUT_MS = 300_000;

/** The `server` response header. */
export const DEFAULT_SERVER_HEADER = "portico";

/** A listener's address when none is given: every interface, like Istio's ingress pod. */
export const DEFAULT_ADDRESS = "0.0.0.0";

/** The settings of a configuration that sets none. */
export function defaultSettings(): {
  timeoutMs: number;
  serverHeader: string;
  pathNormalization: PathNormalization;
  requestTarget: RequestTargetMode;
} {
  return {
    timeoutMs: DEFAULT_TIMEOUT_MS,
    serverHeader: DEFAULT_SERVER_HEADER,
    pathNormalization: DEFAULT_PATH_NORMALIZATION,
    requestTarget: "exact",
  };
}

/**
 * settings.requestTarget. `exact`: the query (and, under pathNormalization NONE, the path) goes
 * upstream byte for byte, as Envoy, nginx and Caddy send it. `whatwg`: Portico may see the target
 * after WHATWG URL parsing, which re-encodes `'`, `"`, `<`, `>`, spaces and non-ASCII bytes in
 * the query; only Bun.serve does that, and accepting it lets the Bun.serve adapters serve.
 */
export const REQUEST_TARGET_MODES = ["exact", "whatwg"] as const;
export type RequestTargetMode = (typeof REQUEST_TARGET_MODES)[number];

/** Istio's default MeshConfig.pathNormalization (Envoy's normalize_path). */
export const DEFAULT_PATH_NORMALIZATION: PathNormalization = "BASE";

/** The admin listener's address when neither --admin nor settings.admin gives one. */
export const DEFAULT_ADMIN = "127.0.0.1:15000";

/** Certificates expiring within this many days draw a warning at startup (`--warn-days`). */
export const DEFAULT_WARN_DAYS = 30;

/** The access log: on, to stdout, one JSON object per line (observe/access-log.ts). */
export const DEFAULT_ACCESS_LOG = { path: "stdout", format: "json" } as const;
