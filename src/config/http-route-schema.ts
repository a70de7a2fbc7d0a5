// The valibot schema of one HTTP route in Istio's HTTPRoute language (what may be written, with
// messages that say what to write). Shared by routes.yaml (`routes[].http[]`) and Istio
// VirtualServices (`spec.http[]`); http-route-build.ts turns a validated entry into the model.
// Field reference: https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute
//
// Istio fields Portico does not implement are reported with the reason (never silently dropped):
// see the `unsupported` tables below.

import * as v from "valibot";
import { captureGroups, compileSubstitution, re2Problem } from "./re2.ts";
import type { RetryCondition } from "./route-model.ts";
import {
  boolean,
  checked,
  describeValue,
  duration,
  expecting,
  got,
  headerValue,
  headerValueScalar,
  isMapping,
  integer,
  list,
  mapping,
  namedMap,
  numberIn,
  oneOf,
  port,
  positiveDuration,
  rule,
  text,
} from "./schema-kit.ts";
import { didYouMean } from "./suggest.ts";

const RE2 = "an RE2 regular expression";
const re2Regex = checked(RE2, (value) => {
  const problem = re2Problem(value);
  return problem === undefined ? undefined : `expected ${RE2}, got ${describeValue(value)} (${problem})`;
});
// Istio reads a header regex of "*" (not valid RE2) as "present" (isCatchAllHeaderMatch).
const headerRegex = checked(RE2, (value) => {
  const problem = value === "*" ? undefined : re2Problem(value);
  return problem === undefined ? undefined : `expected ${RE2}, got ${describeValue(value)} (${problem})`;
});

const KINDS = ["exact", "prefix", "regex"] as const;

function exactlyOneKind<T>(presence: boolean) {
  return rule<T>((m, add) => {
    const kinds = KINDS.filter((kind) => kind in m);
    if (kinds.length === 1 || (kinds.length === 0 && presence)) return;
    const found = kinds.length === 0 ? "none" : kinds.join(" and ");
    add([], `expected exactly one of exact, prefix or regex, got ${found}`);
  });
}

/** Istio's StringMatch; with `presence`, `{}` also means "present with any value" (headers). */
function stringMatchSchema(regex: typeof re2Regex, presence: boolean) {
  const what = `a mapping with one of exact, prefix or regex${presence ? ", or {} for any value" : ""}`;
  return v.pipe(
    mapping(what, {
      exact: v.optional(text("a string")),
      prefix: v.optional(text("a string")),
      regex: v.optional(regex),
    }),
    exactlyOneKind(presence),
  );
}

/** For uri, scheme, method, authority and CORS origins. */
const StringMatchSchema = stringMatchSchema(re2Regex, false);
const HeaderMatchSchema = stringMatchSchema(headerRegex, true);

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPMatchRequest
// queryParams: "prefix matching is currently not supported".
const QueryMatchSchema = v.pipe(
  mapping(
    "a mapping with one of exact or regex, or {} for any value",
    { exact: v.optional(text("a string")), regex: v.optional(re2Regex) },
    { prefix: 'Istio does not support prefix matching of query parameters; use regex, as in regex: "abc.*"' },
  ),
  exactlyOneKind(true),
);

const MatchSchema = mapping(
  "a mapping of match conditions (uri, method, headers, ...)",
  {
    name: v.optional(text("a match name", 1)),
    uri: v.optional(StringMatchSchema),
    scheme: v.optional(StringMatchSchema),
    method: v.optional(StringMatchSchema),
    authority: v.optional(StringMatchSchema),
    headers: v.optional(namedMap("a mapping of header names to string matches", HeaderMatchSchema)),
    withoutHeaders: v.optional(namedMap("a mapping of header names to string matches", HeaderMatchSchema)),
    queryParams: v.optional(
      namedMap("a mapping of query parameter names to string matches", QueryMatchSchema),
    ),
    port: v.optional(port),
    ignoreUriCase: v.optional(boolean()),
  },
  {
    sourceLabels: "Portico is an edge proxy; requests do not come from labelled workloads",
    sourceNamespace: "Portico is an edge proxy; requests do not come from a namespace",
    gateways: "routes apply to every listener their hosts are served on; use match.port to pick a listener",
    statPrefix: "Portico keeps no per-route statistics",
  },
);

const HEADER_NAMES = "a list of header names";
const HeaderOperationsSchema = mapping("a mapping with set, add and remove", {
  set: v.optional(namedMap("a mapping of header names to values", headerValueScalar)),
  add: v.optional(namedMap("a mapping of header names to values", headerValueScalar)),
  remove: v.optional(list(HEADER_NAMES, text("a header name", 1))),
});

const HeadersSchema = mapping("a mapping with request and response", {
  request: v.optional(HeaderOperationsSchema),
  response: v.optional(HeaderOperationsSchema),
});

// Istio's validateSubsetName: a DNS-1123 label.
const SUBSET = "a subset name (lower-case letters, digits and '-', at most 63)";
/** A subset's name, as a DestinationRule defines it and a destination names it. */
export const subsetName = checked(SUBSET, (value) =>
  /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)
    ? undefined
    : `expected ${SUBSET}, got ${describeValue(value)}`,
);

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#Destination
const DestinationObjectSchema = mapping("a service name, or a mapping with host", {
  host: text("a service name or host", 1),
  // Accepted and ignored: a Portico service has one port, which its URL or ServiceEntry names.
  port: v.optional(mapping("a mapping with number", { number: port })),
  // Checked against the service's subsets once every source is read (subset-checks.ts).
  subset: v.optional(subsetName),
});

const DESTINATION = "a service name, or a mapping with host";
/** Istio's Destination: a service name, or `host` (and a port, which is the service's). */
export const Destination = expecting(
  DESTINATION,
  v.lazy((input) =>
    typeof input === "string" ? text("the name of an entry in services", 1) : DestinationObjectSchema,
  ),
);

/** A destination's weight; the rule across a route's destinations is buildDestinations'. */
export const weight = integer("an integer >= 0", 0, Number.MAX_SAFE_INTEGER);

const RouteDestinationSchema = mapping("a mapping with destination and optional weight", {
  destination: Destination,
  weight: v.optional(weight),
  headers: v.optional(HeadersSchema),
});

const AUTHORITY = "a host name with an optional port, such as example.com or example.com:8443";
function authorityProblem(value: string): string | undefined {
  const invalid = `expected ${AUTHORITY}, got ${describeValue(value)}`;
  if (value.includes("://")) return `${invalid}: write it without a scheme`;
  if (value.includes("/")) return `${invalid}: write it without a path`;
  return /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.*-]+)(?::\d{1,5})?$/.test(value) ? undefined : invalid;
}
const authority = checked(AUTHORITY, authorityProblem);
const PATH = 'a path starting with "/"';
const path = checked(PATH, (value) =>
  value.startsWith("/") ? undefined : `expected ${PATH}, got ${describeValue(value)}`,
);

// Envoy's RedirectAction only has these codes (MOVED_PERMANENTLY, FOUND, SEE_OTHER,
// TEMPORARY_REDIRECT, PERMANENT_REDIRECT).
const REDIRECT_CODES = [301, 302, 303, 307, 308];
const REDIRECT_CODE = "301, 302, 303, 307 or 308";
const redirectCode = expecting(
  REDIRECT_CODE,
  v.pipe(
    v.number(got(REDIRECT_CODE)),
    v.check((n) => REDIRECT_CODES.includes(n), got(REDIRECT_CODE)),
  ),
);

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRedirect
const RedirectSchema = v.pipe(
  mapping("a mapping with uri, authority, scheme, port or derivePort", {
    uri: v.optional(path),
    authority: v.optional(authority),
    scheme: v.optional(
      checked("a URL scheme such as https", (s) =>
        /^[A-Za-z][A-Za-z0-9+.-]*$/.test(s)
          ? undefined
          : `expected a URL scheme such as https, got ${describeValue(s)}`,
      ),
    ),
    port: v.optional(port),
    derivePort: v.optional(oneOf(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"] as const)),
    redirectCode: v.optional(redirectCode),
  }),
  rule((r, add) => {
    if ("port" in r && "derivePort" in r) add([], "expected one of port or derivePort, got both");
    if (!["uri", "authority", "scheme", "port", "derivePort"].some((k) => k in r)) {
      add([], "expected at least one of uri, authority, scheme, port or derivePort");
    }
  }),
);

const UriRegexRewriteSchema = v.pipe(
  mapping("a mapping with match and rewrite", {
    match: re2Regex,
    rewrite: text("a substitution such as /v2/\\1"),
  }),
  rule((r, add) => {
    if (typeof r.match !== "string" || typeof r.rewrite !== "string" || re2Problem(r.match) !== undefined)
      return;
    const sub = compileSubstitution(r.rewrite, captureGroups(r.match));
    if (!sub.ok) add(["rewrite"], `invalid substitution ${describeValue(r.rewrite)}: ${sub.problem}`);
  }),
);

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRewrite
const RewriteSchema = v.pipe(
  mapping("a mapping with uri, authority or uriRegexRewrite", {
    uri: v.optional(path),
    authority: v.optional(authority),
    uriRegexRewrite: v.optional(UriRegexRewriteSchema),
  }),
  rule((r, add) => {
    if ("uri" in r && "uriRegexRewrite" in r) add([], "expected one of uri or uriRegexRewrite, got both");
    if (!["uri", "authority", "uriRegexRewrite"].some((k) => k in r))
      add([], "expected at least one of uri, authority or uriRegexRewrite");
  }),
);

const BASE64 = "base64 text";
const base64 = checked(BASE64, (s) =>
  /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0
    ? undefined
    : `expected ${BASE64}, got ${describeValue(s)}`,
);
const BodyObjectSchema = v.pipe(
  mapping("a string, or a mapping with string or bytes", {
    string: v.optional(text("a string")),
    bytes: v.optional(base64),
  }),
  rule((b, add) => {
    const kinds = ["string", "bytes"].filter((k) => k in b);
    if (kinds.length !== 1)
      add([], `expected exactly one of string or bytes, got ${kinds.length === 0 ? "none" : "both"}`);
  }),
);
const Body = expecting(
  "a string, or a mapping with string or bytes",
  v.lazy((input) => (typeof input === "string" ? text("a string") : BodyObjectSchema)),
);

/** Statuses whose responses never have a body (RFC 9110 §15.3.5, §15.3.6, §15.4.5). */
export const NULL_BODY_STATUS = new Set([204, 205, 304]);

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPDirectResponse
const DirectResponseSchema = v.pipe(
  mapping("a mapping with status and optional body", {
    status: integer("an HTTP status code 200..599", 200, 599),
    body: v.optional(Body),
    contentType: v.optional(headerValue),
  }),
  rule((d, add) => {
    // The shape of body is checked by its own schema; here it may be anything (null, a list).
    const body = d.body;
    const empty = body == null || body === "" || (isMapping(body) && !body.string && !body.bytes);
    if (typeof d.status === "number" && NULL_BODY_STATUS.has(d.status) && !empty)
      add(["body"], `a ${d.status} response has no body`);
  }),
);

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry and
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on
const RETRY_CONDITIONS: readonly RetryCondition[] = [
  "5xx",
  "gateway-error",
  "reset",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "envoy-ratelimited",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
];
const UNSUPPORTED_RETRY: Record<string, string> = {
  "retriable-headers": "Istio cannot configure the response headers it needs",
  "reset-before-request": "Portico cannot tell whether a reset came before the request was sent",
  "http3-post-connect-failure": "Portico does not speak HTTP/3 to upstreams",
};

function retryOnProblem(value: string): string | undefined {
  for (const raw of value.split(",")) {
    const part = raw.trim();
    if (part === "" || (RETRY_CONDITIONS as readonly string[]).includes(part)) continue;
    if (/^\d+$/.test(part)) {
      const code = Number(part);
      if (code >= 100 && code <= 599) continue;
      return `invalid status code ${part} in retryOn; expected 100..599`;
    }
    const reason = UNSUPPORTED_RETRY[part];
    if (reason) return `retry condition ${JSON.stringify(part)} is not supported by Portico: ${reason}`;
    const hint =
      didYouMean(part, RETRY_CONDITIONS) || `; expected status codes or: ${RETRY_CONDITIONS.join(", ")}`;
    return `unknown retry condition ${JSON.stringify(part)}${hint}`;
  }
  return undefined;
}

const RetrySchema = mapping(
  "a mapping with attempts and optional perTryTimeout and retryOn",
  {
    attempts: integer("an integer >= 0", 0, 1_000),
    perTryTimeout: v.optional(positiveDuration),
    retryOn: v.optional(
      checked("retry conditions separated by commas, such as 5xx,reset or 503", retryOnProblem),
    ),
    // Istio's default is true: a retry goes to another endpoint when the pool has one.
    retryIgnorePreviousHosts: v.optional(boolean()),
  },
  {
    retryRemoteLocalities: "Portico has no localities",
    backoff: "Portico waits as Envoy does by default (25ms base, 250ms at most, jittered)",
  },
);

const PERCENTAGE = "a percentage from 0 to 100";
const PercentSchema = mapping("a mapping with value", { value: numberIn(PERCENTAGE, 0, 100) });

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPFaultInjection
const DelaySchema = v.pipe(
  mapping(
    "a mapping with fixedDelay and optional percentage",
    { fixedDelay: v.optional(positiveDuration), percentage: v.optional(PercentSchema) },
    {
      exponentialDelay: "only fixedDelay is supported",
      percent: "deprecated in Istio; use percentage: { value: N }",
    },
  ),
  rule((d, add) => {
    if (!("fixedDelay" in d) && !("exponentialDelay" in d))
      add(["fixedDelay"], "required field is missing; expected a duration like 15s or 250ms");
  }),
);
const AbortSchema = v.pipe(
  mapping(
    "a mapping with httpStatus and optional percentage",
    {
      httpStatus: v.optional(integer("an HTTP status code 200..599", 200, 599)),
      percentage: v.optional(PercentSchema),
    },
    {
      grpcStatus: "Portico aborts with an HTTP status; use httpStatus",
      http2Error: "Portico aborts with an HTTP status; use httpStatus",
    },
  ),
  rule((a, add) => {
    if (!["httpStatus", "grpcStatus", "http2Error"].some((k) => k in a)) {
      add(["httpStatus"], "required field is missing; expected an HTTP status code 200..599");
    }
  }),
);
const FaultSchema = v.pipe(
  mapping("a mapping with delay and/or abort", {
    delay: v.optional(DelaySchema),
    abort: v.optional(AbortSchema),
  }),
  rule((f, add) => {
    if (!("delay" in f) && !("abort" in f)) add([], "expected delay, abort or both");
  }),
);

const MirrorEntrySchema = mapping("a mapping with destination and optional percentage", {
  destination: Destination,
  percentage: v.optional(PercentSchema),
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#CorsPolicy
const CorsPolicySchema = mapping(
  "a mapping with allowOrigins and optional allowMethods, allowHeaders, exposeHeaders, maxAge, " +
    "allowCredentials",
  {
    allowOrigins: v.optional(list("a list of string matches", StringMatchSchema)),
    allowMethods: v.optional(list("a list of HTTP methods", text("an HTTP method", 1))),
    allowHeaders: v.optional(list(HEADER_NAMES, text("a header name", 1))),
    exposeHeaders: v.optional(list(HEADER_NAMES, text("a header name", 1))),
    maxAge: v.optional(duration),
    allowCredentials: v.optional(boolean()),
    unmatchedPreflights: v.optional(oneOf(["UNSPECIFIED", "FORWARD", "IGNORE"] as const)),
  },
  { allowOrigin: 'deprecated in Istio; use allowOrigins: [{ exact: "https://example.com" }]' },
);

const ACTIONS = ["route", "redirect", "directResponse"] as const;
/** Fields that shape the request sent to a destination, so they need `route`. */
const ROUTE_ONLY = [
  "rewrite",
  "retries",
  "mirror",
  "mirrors",
  "mirrorPercentage",
  "websocket",
  "idleTimeout",
] as const;

/** The schema of one HTTPRoute entry (`routes[].http[]`, or a VirtualService's `spec.http[]`). */
export const HttpRouteSchema = v.pipe(
  mapping(
    "a mapping with route, redirect or directResponse",
    {
      name: v.optional(text("a route name", 1)),
      match: v.optional(list("a list of match conditions", MatchSchema)),
      route: v.optional(list("a non-empty list of destinations", RouteDestinationSchema, 1)),
      redirect: v.optional(RedirectSchema),
      directResponse: v.optional(DirectResponseSchema),
      rewrite: v.optional(RewriteSchema),
      headers: v.optional(HeadersSchema),
      timeout: v.optional(duration),
      retries: v.optional(RetrySchema),
      fault: v.optional(FaultSchema),
      mirror: v.optional(Destination),
      mirrorPercentage: v.optional(PercentSchema),
      mirrors: v.optional(
        list("a list of mirrors, each with destination and optional percentage", MirrorEntrySchema),
      ),
      corsPolicy: v.optional(CorsPolicySchema),
      // Portico's own (routes.yaml only; virtual-service.ts refuses them): Envoy's per-route
      // upgrade_configs switch and RouteAction.idle_timeout, for upgraded (WebSocket) connections.
      websocket: v.optional(boolean()),
      idleTimeout: v.optional(duration),
      // The listener's limits.maxRequestBodyBytes for this route (config/limits.ts); 0: none.
      maxRequestBodyBytes: v.optional(
        integer("an integer number of bytes, 0 for no limit", 0, Number.MAX_SAFE_INTEGER),
      ),
    },
    {
      delegate: "VirtualService delegation is not supported; write the routes inline",
      mirrorPercent: "deprecated in Istio; use mirrorPercentage: { value: N }",
    },
  ),
  rule((route, add) => {
    const actions = ACTIONS.filter((k) => k in route);
    if (actions.length > 1)
      add([], `expected exactly one of route, redirect or directResponse, got ${actions.join(" and ")}`);
    else if (actions.length === 0 && !("delegate" in route))
      add([], "expected one of route, redirect or directResponse");
    if (actions.length === 1 && !("route" in route)) {
      for (const k of ROUTE_ONLY) if (k in route) add([k], `only allowed with route, not with ${actions[0]}`);
    }
    if ("mirror" in route && "mirrors" in route)
      add(["mirrors"], "mirror and mirrors cannot be used together; list every mirror under mirrors");
    if ("mirrorPercentage" in route && !("mirror" in route))
      add(["mirrorPercentage"], "only allowed with mirror; each mirrors entry has its own percentage");
  }),
);

export type RawHttpRoute = v.InferOutput<typeof HttpRouteSchema>;
export type RawStringMatch = { exact?: string; prefix?: string; regex?: string };
export type RawDestination = v.InferOutput<typeof Destination>;
export type RawHeaderOperations = v.InferOutput<typeof HeaderOperationsSchema>;
export type RawHeaders = v.InferOutput<typeof HeadersSchema>;
