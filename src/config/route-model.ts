// The validated form of one HTTP route (Istio's HTTPRoute), plain data: produced by
// buildHttpRoute (http-route-build.ts) from routes.yaml or a VirtualService's `spec.http[]`,
// compiled by provisioning (provision/compile-route.ts). Re-exported by model.ts.
// Field docs: https://istio.io/latest/docs/reference/config/networking/virtual-service/

import type { Source } from "../util/errors.ts";

/** Istio's StringMatch: exact, prefix, or an RE2 regex that must match the whole value. */
export type StringMatch =
  | { kind: "exact"; value: string }
  | { kind: "prefix"; value: string }
  | { kind: "regex"; value: string };

export type UriMatch = StringMatch;

/** A header or query parameter condition; `{}` in YAML means "present, with any value". */
export type PresenceMatch = StringMatch | { kind: "present" };

export interface NamedMatch {
  /** Header names are lower-case. */
  name: string;
  match: PresenceMatch;
}

/** One `match` entry (HTTPMatchRequest): every condition given must hold (AND). */
export interface HttpMatchConfig {
  name?: string;
  uri?: UriMatch;
  /** Exact and prefix `uri` matches ignore case (regex ones do not, as in Istio). */
  ignoreUriCase?: boolean;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: NamedMatch[];
  /** Matches when none of these headers match. */
  withoutHeaders?: NamedMatch[];
  queryParams?: NamedMatch[];
  /** The port of the listener the request arrived on. */
  port?: number;
}

/** Istio's Headers.HeaderOperations, applied remove → set → add. */
export interface HeaderOperations {
  /** Lower-case names. */
  remove: string[];
  /** `""` removes the header. */
  set: [string, string][];
  add: [string, string][];
}

export interface HeadersConfig {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface DestinationConfig {
  /** Name of an entry in `services`. */
  service: string;
  weight: number;
  /** Header operations that apply only when this destination is picked. */
  headers?: HeadersConfig;
  source: Source;
  /** Istio's `destination.subset`: one of the service's `subsets`, and where it was written. */
  subset?: SubsetRef;
}

/** A reference to a subset of the destination's service, checked once every source is read. */
export interface SubsetRef {
  name: string;
  source: Source;
}

export interface DirectResponseConfig {
  status: number;
  /** Text, or bytes from Istio's `body: { bytes: <base64> }`. */
  body?: string | Uint8Array<ArrayBuffer>;
  contentType?: string;
}

export interface RedirectConfig {
  uri?: string;
  authority?: string;
  scheme?: string;
  port?: number;
  derivePort?: "FROM_PROTOCOL_DEFAULT" | "FROM_REQUEST_PORT";
  /** 301 unless given. */
  redirectCode: number;
}

export interface RewriteConfig {
  /** Replaces the matched prefix for a prefix match, otherwise the whole path. */
  uri?: string;
  authority?: string;
  /** RE2 pattern and substitution (`\1`), applied to every match in the path. */
  uriRegexRewrite?: { match: string; rewrite: string };
}

export type RetryCondition =
  | "5xx"
  | "gateway-error"
  | "reset"
  | "connect-failure"
  | "retriable-4xx"
  | "refused-stream"
  | "retriable-status-codes"
  | "envoy-ratelimited"
  | "cancelled"
  | "deadline-exceeded"
  | "internal"
  | "resource-exhausted"
  | "unavailable";

export interface RetryConfig {
  /** Retries after the first try; 0 disables retries. */
  attempts: number;
  /** Undefined: each try may use what is left of the route timeout. */
  perTryTimeoutMs?: number;
  retryOn: RetryCondition[];
  /** For `retriable-status-codes`: the numbers given in `retryOn`. */
  retriableStatusCodes: number[];
  /** A retry goes to another endpoint when there is one (Istio's default: true). */
  retryIgnorePreviousHosts: boolean;
}

export interface FaultConfig {
  delay?: { fixedDelayMs: number; percentage: number };
  abort?: { httpStatus: number; percentage: number };
}

export interface MirrorConfig {
  /** Name of an entry in `services`. */
  service: string;
  /** 0..100. */
  percentage: number;
  source: Source;
  subset?: SubsetRef;
}

export interface CorsPolicyConfig {
  allowOrigins: StringMatch[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
  allowCredentials?: boolean;
  /** What to do with a preflight from an origin that is not allowed (Istio's unmatchedPreflights). */
  unmatchedPreflights: "FORWARD" | "IGNORE";
}

export interface HttpRouteConfig {
  name?: string;
  /** Any one of these matches (OR); an empty list matches every request. */
  match: HttpMatchConfig[];
  /** Empty for redirect and directResponse routes. */
  destinations: DestinationConfig[];
  directResponse?: DirectResponseConfig;
  redirect?: RedirectConfig;
  rewrite?: RewriteConfig;
  headers?: HeadersConfig;
  /** Milliseconds; the whole upstream exchange up to response headers, retries included. 0: none. */
  timeoutMs: number;
  retries?: RetryConfig;
  fault?: FaultConfig;
  mirrors?: MirrorConfig[];
  corsPolicy?: CorsPolicyConfig;
  /** False: an Upgrade (WebSocket) request is refused with 403, as Envoy does. Absent: allowed. */
  websocket?: false;
  /** Milliseconds an upgraded connection may carry no byte either way before both sides close. */
  idleTimeoutMs?: number;
  /** routes.yaml only: the request body limit for this route, replacing the listener's; 0: none. */
  maxRequestBodyBytes?: number;
  source: Source;
}
