// One HTTP route in Istio's HTTPRoute language: the valibot schema of what may be written, and
// the builder that turns a validated entry into HttpRouteConfig (route-model.ts). Shared by the
// native routes.yaml loader (load.ts, `routes[].http[]`) and the Istio VirtualService loader
// (`spec.http[]`), each reporting through its own file/line context.
// Field reference: https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute
//
// Istio fields Portico does not implement are reported with the reason (never silently dropped):
// see the `unsupported` tables below.

import * as v from "valibot";
import { parseDuration } from "./duration.ts";
import type { ServiceConfig, Source } from "./model.ts";
import { captureGroups, compileSubstitution, re2Problem } from "./re2.ts";
import type {
  CorsPolicyConfig,
  DestinationConfig,
  FaultConfig,
  HeaderOperations,
  HeadersConfig,
  HttpMatchConfig,
  HttpRouteConfig,
  MirrorConfig,
  NamedMatch,
  PresenceMatch,
  RetryCondition,
  RetryConfig,
  StringMatch,
} from "./route-model.ts";
import {
  boolean,
  checked,
  describeValue,
  duration,
  expecting,
  got,
  headerValue,
  headerValueScalar,
  integer,
  list,
  mapping,
  namedMap,
  numberIn,
  oneOf,
  positiveDuration,
  rule,
  text,
} from "./schema-kit.ts";
import { didYouMean, unknownName } from "./suggest.ts";
import type { FieldPath } from "./yaml-locate.ts";

/** What the builder needs from a loader: locating paths and collecting issues (load.ts's Context). */
export interface RouteContext {
  source(path: FieldPath): Source;
  report(path: FieldPath, message: string): void;
}

export interface HttpRouteOptions {
  /**
   * Appended to "unknown service" messages, given the service name the host would resolve to
   * (for example "; give its address with --service webapp=http://HOST:PORT").
   */
  unknownServiceHint?: (service: string) => string;
}

// ---------------------------------------------------------------------------------------------
// Schema

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

/** Istio's StringMatch, for uri, scheme, method, authority and CORS origins. */
const StringMatchSchema = v.pipe(
  mapping("a mapping with one of exact, prefix or regex", {
    exact: v.optional(text("a string")),
    prefix: v.optional(text("a string")),
    regex: v.optional(re2Regex),
  }),
  exactlyOneKind(false),
);

/** A header condition: a StringMatch, or `{}` for "present with any value". */
const HeaderMatchSchema = v.pipe(
  mapping("a mapping with one of exact, prefix or regex, or {} for any value", {
    exact: v.optional(text("a string")),
    prefix: v.optional(text("a string")),
    regex: v.optional(headerRegex),
  }),
  exactlyOneKind(true),
);

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

const PORT = "an integer 1..65535";
const port = integer(PORT, 1, 65535);

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
    queryParams: v.optional(namedMap("a mapping of query parameter names to string matches", QueryMatchSchema)),
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

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#Destination
const DestinationObjectSchema = mapping(
  "a service name, or a mapping with host",
  {
    host: text("a service name or host", 1),
    // Accepted and ignored: a Portico service is one origin whose URL already names its port.
    port: v.optional(mapping("a mapping with number", { number: port })),
  },
  { subset: "Portico has no DestinationRule subsets; define each version as its own service and route to it by name" },
);

const DESTINATION = "a service name, or a mapping with host";
const Destination = expecting(
  DESTINATION,
  v.lazy((input) => (typeof input === "string" ? text("the name of an entry in services", 1) : DestinationObjectSchema)),
);

const RouteDestinationSchema = mapping("a mapping with destination and optional weight", {
  destination: Destination,
  weight: v.optional(integer("an integer >= 0", 0, Number.MAX_SAFE_INTEGER)),
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
const path = checked(PATH, (value) => (value.startsWith("/") ? undefined : `expected ${PATH}, got ${describeValue(value)}`));

// Envoy's RedirectAction only has these codes (MOVED_PERMANENTLY, FOUND, SEE_OTHER,
// TEMPORARY_REDIRECT, PERMANENT_REDIRECT).
const REDIRECT_CODES = [301, 302, 303, 307, 308];
const REDIRECT_CODE = "301, 302, 303, 307 or 308";
const redirectCode = expecting(
  REDIRECT_CODE,
  v.pipe(v.number(got(REDIRECT_CODE)), v.check((n) => REDIRECT_CODES.includes(n), got(REDIRECT_CODE))),
);

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRedirect
const RedirectSchema = v.pipe(
  mapping("a mapping with uri, authority, scheme, port or derivePort", {
    uri: v.optional(path),
    authority: v.optional(authority),
    scheme: v.optional(checked("a URL scheme such as https", (s) => (/^[A-Za-z][A-Za-z0-9+.-]*$/.test(s) ? undefined : `expected a URL scheme such as https, got ${describeValue(s)}`))),
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
  mapping("a mapping with match and rewrite", { match: re2Regex, rewrite: text("a substitution such as /v2/\\1") }),
  rule((r, add) => {
    if (typeof r.match !== "string" || typeof r.rewrite !== "string" || re2Problem(r.match) !== undefined) return;
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
    if (!["uri", "authority", "uriRegexRewrite"].some((k) => k in r)) add([], "expected at least one of uri, authority or uriRegexRewrite");
  }),
);

const BASE64 = "base64 text";
const base64 = checked(BASE64, (s) =>
  /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0 ? undefined : `expected ${BASE64}, got ${describeValue(s)}`,
);
const BodyObjectSchema = v.pipe(
  mapping("a string, or a mapping with string or bytes", { string: v.optional(text("a string")), bytes: v.optional(base64) }),
  rule((b, add) => {
    const kinds = ["string", "bytes"].filter((k) => k in b);
    if (kinds.length !== 1) add([], `expected exactly one of string or bytes, got ${kinds.length === 0 ? "none" : "both"}`);
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
    const body = d.body as string | { string?: string; bytes?: string } | undefined;
    const empty = body === undefined || body === "" || (typeof body === "object" && !body.string && !body.bytes);
    if (typeof d.status === "number" && NULL_BODY_STATUS.has(d.status) && !empty) add(["body"], `a ${d.status} response has no body`);
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
    const hint = didYouMean(part, RETRY_CONDITIONS) || `; expected status codes or: ${RETRY_CONDITIONS.join(", ")}`;
    return `unknown retry condition ${JSON.stringify(part)}${hint}`;
  }
  return undefined;
}

const RetrySchema = mapping(
  "a mapping with attempts and optional perTryTimeout and retryOn",
  {
    attempts: integer("an integer >= 0", 0, 1_000),
    perTryTimeout: v.optional(positiveDuration),
    retryOn: v.optional(checked("retry conditions separated by commas, such as 5xx,reset or 503", retryOnProblem)),
  },
  {
    retryRemoteLocalities: "Portico has no localities; a service is one origin",
    retryIgnorePreviousHosts: "a service is one origin, so every retry goes to the same host",
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
    if (!("fixedDelay" in d) && !("exponentialDelay" in d)) add(["fixedDelay"], "required field is missing; expected a duration like 15s or 250ms");
  }),
);
const AbortSchema = v.pipe(
  mapping(
    "a mapping with httpStatus and optional percentage",
    { httpStatus: v.optional(integer("an HTTP status code 200..599", 200, 599)), percentage: v.optional(PercentSchema) },
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
  mapping("a mapping with delay and/or abort", { delay: v.optional(DelaySchema), abort: v.optional(AbortSchema) }),
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
  "a mapping with allowOrigins and optional allowMethods, allowHeaders, exposeHeaders, maxAge, allowCredentials",
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
const ROUTE_ONLY = ["rewrite", "retries", "mirror", "mirrors", "mirrorPercentage"] as const;

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
      mirrors: v.optional(list("a list of mirrors, each with destination and optional percentage", MirrorEntrySchema)),
      corsPolicy: v.optional(CorsPolicySchema),
    },
    {
      delegate: "VirtualService delegation is not supported; write the routes inline",
      mirrorPercent: "deprecated in Istio; use mirrorPercentage: { value: N }",
    },
  ),
  rule((route, add) => {
    const actions = ACTIONS.filter((k) => k in route);
    if (actions.length > 1) add([], `expected exactly one of route, redirect or directResponse, got ${actions.join(" and ")}`);
    else if (actions.length === 0 && !("delegate" in route)) add([], "expected one of route, redirect or directResponse");
    if (actions.length === 1 && !("route" in route)) {
      for (const k of ROUTE_ONLY) if (k in route) add([k], `only allowed with route, not with ${actions[0]}`);
    }
    if ("mirror" in route && "mirrors" in route) add(["mirrors"], "mirror and mirrors cannot be used together; list every mirror under mirrors");
    if ("mirrorPercentage" in route && !("mirror" in route)) add(["mirrorPercentage"], "only allowed with mirror; each mirrors entry has its own percentage");
  }),
);

export type RawHttpRoute = v.InferOutput<typeof HttpRouteSchema>;
type RawStringMatch = { exact?: string; prefix?: string; regex?: string };
type RawDestination = v.InferOutput<typeof Destination>;
type RawHeaderOperations = v.InferOutput<typeof HeaderOperationsSchema>;
type RawHeaders = v.InferOutput<typeof HeadersSchema>;

// ---------------------------------------------------------------------------------------------
// Builder

/** Envoy's default route timeout, for callers without settings. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

/**
 * Validates one raw HTTPRoute value (as parsed from YAML) and builds it; every problem is
 * reported through `ctx` at `at` + its own path. Undefined when there were problems.
 */
export function parseHttpRoute(
  raw: unknown,
  at: FieldPath,
  services: Map<string, ServiceConfig> | undefined,
  defaultTimeoutMs: number,
  ctx: RouteContext,
  opts: HttpRouteOptions = {},
): HttpRouteConfig | undefined {
  const result = v.safeParse(HttpRouteSchema, raw);
  if (!result.success) {
    for (const issue of result.issues) ctx.report([...at, ...(issue.path ?? []).map((item) => item.key as string | number)], issue.message);
    return undefined;
  }
  return buildHttpRoute(result.output, at, services, defaultTimeoutMs, ctx, opts);
}

/**
 * Builds one schema-valid HTTPRoute entry: defaults, destination hosts resolved to services,
 * header names checked. `services` undefined skips the service checks (that section had errors).
 */
export function buildHttpRoute(
  route: RawHttpRoute,
  at: FieldPath,
  services: Map<string, ServiceConfig> | undefined,
  defaultTimeoutMs: number,
  ctx: RouteContext,
  opts: HttpRouteOptions = {},
): HttpRouteConfig {
  const lookup: Services = { services, hint: opts.unknownServiceHint };
  const match = (route.match ?? []).map((entry, k) => buildMatch(entry, [...at, "match", k], ctx));
  const destinations = buildDestinations(route.route ?? [], [...at, "route"], lookup, ctx);
  const built: HttpRouteConfig = {
    match,
    destinations,
    timeoutMs: route.timeout === undefined ? defaultTimeoutMs : parseDuration(route.timeout)!,
    source: ctx.source(at),
  };
  if (route.name !== undefined) built.name = route.name;
  if (route.directResponse) {
    const { status, body, contentType } = route.directResponse;
    const text = typeof body === "string" ? body : body?.string;
    const bytes = typeof body === "object" && body.bytes !== undefined ? Uint8Array.from(atob(body.bytes), (c) => c.charCodeAt(0)) : undefined;
    built.directResponse = {
      status,
      ...(text !== undefined ? { body: text } : bytes !== undefined ? { body: bytes } : {}),
      ...(contentType === undefined ? {} : { contentType }),
    };
  }
  if (route.redirect) {
    const r = route.redirect;
    built.redirect = {
      ...(r.uri === undefined ? {} : { uri: r.uri }),
      ...(r.authority === undefined ? {} : { authority: r.authority }),
      ...(r.scheme === undefined ? {} : { scheme: r.scheme.toLowerCase() }),
      ...(r.port === undefined ? {} : { port: r.port }),
      ...(r.derivePort === undefined ? {} : { derivePort: r.derivePort }),
      redirectCode: r.redirectCode ?? 301,
    };
  }
  if (route.rewrite) {
    const r = route.rewrite;
    built.rewrite = {
      ...(r.uri === undefined ? {} : { uri: r.uri }),
      ...(r.authority === undefined ? {} : { authority: r.authority }),
      ...(r.uriRegexRewrite === undefined ? {} : { uriRegexRewrite: { match: r.uriRegexRewrite.match, rewrite: r.uriRegexRewrite.rewrite } }),
    };
  }
  if (route.headers) {
    const headers = buildHeaders(route.headers, [...at, "headers"], ctx);
    if (headers) built.headers = headers;
  }
  if (route.retries) built.retries = buildRetries(route.retries);
  if (route.fault) built.fault = buildFault(route.fault);
  const mirrors = buildMirrors(route, at, lookup, ctx);
  if (mirrors.length > 0) built.mirrors = mirrors;
  if (route.corsPolicy) built.corsPolicy = buildCors(route.corsPolicy);
  return built;
}

function stringMatch(m: RawStringMatch): StringMatch {
  if (m.exact !== undefined) return { kind: "exact", value: m.exact };
  if (m.prefix !== undefined) return { kind: "prefix", value: m.prefix };
  return { kind: "regex", value: m.regex! };
}

function presenceMatch(m: RawStringMatch): PresenceMatch {
  // `{}` checks presence (Istio: "If the value is empty and only the name of header is
  // specified, presence of the header is checked"); so do regex "*" and ".*" (Istio's
  // isCatchAllHeaderMatch).
  if (m.exact === undefined && m.prefix === undefined && (m.regex === undefined || m.regex === "*" || m.regex === ".*")) return { kind: "present" };
  return stringMatch(m);
}

/** Istio's header name rule (validHeaderRegex in its validation). */
const HEADER_NAME = /^[-_A-Za-z0-9]+$/;
const headerNameProblem = (name: string) =>
  HEADER_NAME.test(name) ? undefined : `invalid header name ${JSON.stringify(name)}: expected letters, digits, "-" and "_"`;

/** Keys Istio ignores under match.headers: they have fields of their own. */
const PSEUDO_HEADERS = new Set(["uri", "scheme", "method", "authority"]);

function namedMatches(raw: Record<string, RawStringMatch>, at: FieldPath, ctx: RouteContext, headers: boolean): NamedMatch[] {
  const out: NamedMatch[] = [];
  for (const [name, m] of Object.entries(raw)) {
    if (headers) {
      const problem = headerNameProblem(name);
      if (problem) ctx.report([...at, name], problem);
      if (PSEUDO_HEADERS.has(name.toLowerCase())) {
        ctx.report([...at, name], `Istio ignores "${name}" as a header name; use match.${name.toLowerCase()} instead`);
      }
    }
    out.push({ name: headers ? name.toLowerCase() : name, match: presenceMatch(m) });
  }
  return out;
}

function buildMatch(entry: NonNullable<RawHttpRoute["match"]>[number], at: FieldPath, ctx: RouteContext): HttpMatchConfig {
  const m: HttpMatchConfig = {};
  if (entry.name !== undefined) m.name = entry.name;
  if (entry.uri) m.uri = stringMatch(entry.uri);
  if (entry.ignoreUriCase) m.ignoreUriCase = true;
  if (entry.scheme) m.scheme = stringMatch(entry.scheme);
  if (entry.method) m.method = stringMatch(entry.method);
  if (entry.authority) m.authority = stringMatch(entry.authority);
  if (entry.headers) m.headers = namedMatches(entry.headers, [...at, "headers"], ctx, true);
  if (entry.withoutHeaders) m.withoutHeaders = namedMatches(entry.withoutHeaders, [...at, "withoutHeaders"], ctx, true);
  if (entry.queryParams) m.queryParams = namedMatches(entry.queryParams, [...at, "queryParams"], ctx, false);
  if (entry.port !== undefined) m.port = entry.port;
  return m;
}

/**
 * A destination host names a service: exactly, or by its first label when no service has the
 * whole name (`webapp.default.svc.cluster.local` → `webapp`), so Istio-style hosts carry over.
 */
interface Services {
  services: Map<string, ServiceConfig> | undefined;
  hint: HttpRouteOptions["unknownServiceHint"];
}

function resolveService(host: string, at: FieldPath, { services, hint }: Services, ctx: RouteContext): string {
  if (!services || services.has(host)) return host;
  const first = host.split(".")[0]!;
  if (host.includes(".") && services.has(first)) return first;
  ctx.report(at, unknownName("service", "services", host, [...services.keys()]) + (hint?.(first) ?? ""));
  return host;
}

function destinationService(d: RawDestination, at: FieldPath, services: Services, ctx: RouteContext): string {
  return typeof d === "string" ? resolveService(d, at, services, ctx) : resolveService(d.host, [...at, "host"], services, ctx);
}

function buildDestinations(raw: NonNullable<RawHttpRoute["route"]>, at: FieldPath, services: Services, ctx: RouteContext): DestinationConfig[] {
  // Istio's rule: no weights means an equal split; once any is given, the others are 0.
  const weighted = raw.some((destination) => destination.weight !== undefined);
  const built = raw.map((destination, k) => {
    const service = destinationService(destination.destination, [...at, k, "destination"], services, ctx);
    const weight = weighted ? (destination.weight ?? 0) : 1;
    const out: DestinationConfig = { service, weight, source: ctx.source([...at, k]) };
    if (destination.headers) {
      const headers = buildHeaders(destination.headers, [...at, k, "headers"], ctx);
      if (headers) out.headers = headers;
    }
    return out;
  });
  if (built.length > 0 && built.every((destination) => destination.weight === 0)) {
    ctx.report(at, "every destination has weight 0; at least one weight must be greater than 0");
  }
  return built;
}

/** Envoy's header formatters (`%REQ(x)%`, `%DOWNSTREAM_REMOTE_ADDRESS%`); `%%` is a literal %. */
const ENVOY_FORMATTER = /%[A-Z][A-Z0-9_]*(?:\([^)]*\))?(?::\d+)?%/;

function buildOperations(raw: RawHeaderOperations, at: FieldPath, ctx: RouteContext): HeaderOperations | undefined {
  const pairs = (map: Record<string, string> | undefined, field: string): [string, string][] =>
    Object.entries(map ?? {}).map(([name, value]) => {
      const problem = headerNameProblem(name);
      if (problem) ctx.report([...at, field, name], problem);
      if (ENVOY_FORMATTER.test(value.replaceAll("%%", ""))) {
        ctx.report([...at, field, name], "Envoy's %...% substitutions in header values are not supported by Portico; write a literal value");
      }
      return [name.toLowerCase(), value.replaceAll("%%", "%")];
    });
  const set = pairs(raw.set, "set");
  const add = pairs(raw.add, "add");
  const remove = (raw.remove ?? []).map((name, k) => {
    const problem = headerNameProblem(name);
    if (problem) ctx.report([...at, "remove", k], problem);
    else if (name.toLowerCase() === "host") ctx.report([...at, "remove", k], "the host header cannot be removed; use rewrite.authority to change it");
    return name.toLowerCase();
  });
  if (set.length + add.length + remove.length === 0) return undefined;
  return { remove, set, add };
}

function buildHeaders(raw: RawHeaders, at: FieldPath, ctx: RouteContext): HeadersConfig | undefined {
  const out: HeadersConfig = {};
  const request = raw.request && buildOperations(raw.request, [...at, "request"], ctx);
  const response = raw.response && buildOperations(raw.response, [...at, "response"], ctx);
  if (request) out.request = request;
  if (response) out.response = response;
  return request || response ? out : undefined;
}

// Istio's retry defaults (pilot's retry.DefaultPolicy): when `retryOn` is left out, these apply.
const DEFAULT_RETRY_ON: RetryCondition[] = ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"];
const DEFAULT_RETRIABLE_STATUS = [503];

function buildRetries(raw: NonNullable<RawHttpRoute["retries"]>): RetryConfig {
  const out: RetryConfig = { attempts: raw.attempts, retryOn: DEFAULT_RETRY_ON, retriableStatusCodes: DEFAULT_RETRIABLE_STATUS };
  if (raw.perTryTimeout !== undefined) out.perTryTimeoutMs = parseDuration(raw.perTryTimeout)!;
  if (raw.retryOn !== undefined) {
    // As Istio's parseRetryOn: numbers are retriable status codes, which turn on
    // retriable-status-codes; the rest are Envoy's retry conditions.
    const conditions: RetryCondition[] = [];
    const codes: number[] = [];
    for (const raw_ of raw.retryOn.split(",")) {
      const part = raw_.trim();
      if (part === "") continue;
      if (/^\d+$/.test(part)) codes.push(Number(part));
      else if (!conditions.includes(part as RetryCondition)) conditions.push(part as RetryCondition);
    }
    if (codes.length > 0 && !conditions.includes("retriable-status-codes")) conditions.push("retriable-status-codes");
    out.retryOn = conditions;
    out.retriableStatusCodes = codes;
  }
  return out;
}

function buildFault(raw: NonNullable<RawHttpRoute["fault"]>): FaultConfig {
  const out: FaultConfig = {};
  // Istio: "If left unspecified, all requests will be delayed / aborted."
  if (raw.delay?.fixedDelay !== undefined) {
    out.delay = { fixedDelayMs: parseDuration(raw.delay.fixedDelay)!, percentage: raw.delay.percentage?.value ?? 100 };
  }
  if (raw.abort?.httpStatus !== undefined) out.abort = { httpStatus: raw.abort.httpStatus, percentage: raw.abort.percentage?.value ?? 100 };
  return out;
}

function buildMirrors(route: RawHttpRoute, at: FieldPath, services: Services, ctx: RouteContext): MirrorConfig[] {
  // Istio: "If this field [mirrorPercentage] is absent, all the traffic (100%) will be mirrored."
  if (route.mirror !== undefined) {
    const service = destinationService(route.mirror, [...at, "mirror"], services, ctx);
    return [{ service, percentage: route.mirrorPercentage?.value ?? 100, source: ctx.source([...at, "mirror"]) }];
  }
  return (route.mirrors ?? []).map((m, k) => ({
    service: destinationService(m.destination, [...at, "mirrors", k, "destination"], services, ctx),
    percentage: m.percentage?.value ?? 100,
    source: ctx.source([...at, "mirrors", k]),
  }));
}

function buildCors(raw: NonNullable<RawHttpRoute["corsPolicy"]>): CorsPolicyConfig {
  const out: CorsPolicyConfig = {
    allowOrigins: (raw.allowOrigins ?? []).map(stringMatch),
    allowMethods: raw.allowMethods ?? [],
    allowHeaders: raw.allowHeaders ?? [],
    exposeHeaders: raw.exposeHeaders ?? [],
    unmatchedPreflights: raw.unmatchedPreflights === "IGNORE" ? "IGNORE" : "FORWARD",
  };
  // Istio sends whole seconds (max_age: strconv.FormatInt(seconds)).
  if (raw.maxAge !== undefined) out.maxAgeSeconds = Math.floor(parseDuration(raw.maxAge)! / 1000);
  if (raw.allowCredentials !== undefined) out.allowCredentials = raw.allowCredentials;
  return out;
}

