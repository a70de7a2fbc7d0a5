// A validated HTTP route (http-route-schema.ts) → HttpRouteConfig (route-model.ts): defaults,
// destination hosts resolved to services, header names checked. Also the Istio RouteDestination
// list of any route (HTTP, TCP, TLS): one weight rule and one service lookup for all of them.

import { parseDuration } from "./duration.ts";
import {
  HttpRouteSchema,
  type RawDestination,
  type RawHeaderOperations,
  type RawHeaders,
  type RawHttpRoute,
  type RawStringMatch,
} from "./http-route-schema.ts";
import type { ServiceConfig } from "./model.ts";
import type { Reporter } from "./report.ts";
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
  SubsetRef,
} from "./route-model.ts";
import { validate } from "./schema-kit.ts";
import { unknownName } from "./suggest.ts";
import type { FieldPath } from "./yaml-locate.ts";

/** Where destination hosts are looked up. */
export interface ServiceLookup {
  /** Undefined skips the checks (that section had errors). */
  services: Map<string, ServiceConfig> | undefined;
  /**
   * Appended to "unknown service" messages, given the service name the host would resolve to
   * (for example "; give its address with --service webapp=http://HOST:PORT").
   */
  unknownServiceHint?: (service: string) => string;
}

/**
 * Validates one raw HTTPRoute value (as parsed from YAML) and builds it; every problem is
 * reported through `ctx` at `at` + its own path. Undefined when there were problems.
 */
export function parseHttpRoute(
  raw: unknown,
  at: FieldPath,
  lookup: ServiceLookup,
  defaultTimeoutMs: number,
  ctx: Reporter,
): HttpRouteConfig | undefined {
  const route = validate(HttpRouteSchema, raw, at, ctx);
  return route && buildHttpRoute(route, at, lookup, defaultTimeoutMs, ctx);
}

/**
 * Builds one schema-valid HTTPRoute entry: defaults, destination hosts resolved to services,
 * header names checked. `services` undefined skips the service checks (that section had errors).
 */
export function buildHttpRoute(
  route: RawHttpRoute,
  at: FieldPath,
  lookup: ServiceLookup,
  defaultTimeoutMs: number,
  ctx: Reporter,
): HttpRouteConfig {
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
    const bytes =
      typeof body === "object" && body.bytes !== undefined
        ? Uint8Array.from(atob(body.bytes), (c) => c.charCodeAt(0))
        : undefined;
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
      ...(r.uriRegexRewrite === undefined
        ? {}
        : { uriRegexRewrite: { match: r.uriRegexRewrite.match, rewrite: r.uriRegexRewrite.rewrite } }),
    };
  }
  if (route.headers) {
    const headers = buildHeaders(route.headers, [...at, "headers"], ctx);
    if (headers) built.headers = headers;
  }
  if (route.websocket === false) built.websocket = false;
  if (route.idleTimeout !== undefined) built.idleTimeoutMs = parseDuration(route.idleTimeout)!;
  if (route.maxRequestBodyBytes !== undefined) built.maxRequestBodyBytes = route.maxRequestBodyBytes;
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
  if (
    m.exact === undefined &&
    m.prefix === undefined &&
    (m.regex === undefined || m.regex === "*" || m.regex === ".*")
  )
    return { kind: "present" };
  return stringMatch(m);
}

/** Istio's header name rule (validHeaderRegex in its validation). */
const HEADER_NAME = /^[-_A-Za-z0-9]+$/;
const headerNameProblem = (name: string) =>
  HEADER_NAME.test(name)
    ? undefined
    : `invalid header name ${JSON.stringify(name)}: expected letters, digits, "-" and "_"`;

/** Keys Istio ignores under match.headers: they have fields of their own. */
const PSEUDO_HEADERS = new Set(["uri", "scheme", "method", "authority"]);

function namedMatches(
  raw: Record<string, RawStringMatch>,
  at: FieldPath,
  ctx: Reporter,
  headers: boolean,
): NamedMatch[] {
  const out: NamedMatch[] = [];
  for (const [name, m] of Object.entries(raw)) {
    if (headers) {
      const problem = headerNameProblem(name);
      if (problem) ctx.report([...at, name], problem);
      if (PSEUDO_HEADERS.has(name.toLowerCase())) {
        ctx.report(
          [...at, name],
          `Istio ignores "${name}" as a header name; use match.${name.toLowerCase()} instead`,
        );
      }
    }
    out.push({ name: headers ? name.toLowerCase() : name, match: presenceMatch(m) });
  }
  return out;
}

function buildMatch(
  entry: NonNullable<RawHttpRoute["match"]>[number],
  at: FieldPath,
  ctx: Reporter,
): HttpMatchConfig {
  const m: HttpMatchConfig = {};
  if (entry.name !== undefined) m.name = entry.name;
  if (entry.uri) m.uri = stringMatch(entry.uri);
  if (entry.ignoreUriCase) m.ignoreUriCase = true;
  if (entry.scheme) m.scheme = stringMatch(entry.scheme);
  if (entry.method) m.method = stringMatch(entry.method);
  if (entry.authority) m.authority = stringMatch(entry.authority);
  if (entry.headers) m.headers = namedMatches(entry.headers, [...at, "headers"], ctx, true);
  if (entry.withoutHeaders)
    m.withoutHeaders = namedMatches(entry.withoutHeaders, [...at, "withoutHeaders"], ctx, true);
  if (entry.queryParams) m.queryParams = namedMatches(entry.queryParams, [...at, "queryParams"], ctx, false);
  if (entry.port !== undefined) m.port = entry.port;
  return m;
}

/**
 * The service a host names: exactly, or by its first label when no service has the whole name
 * (`webapp.default.svc.cluster.local` → `webapp`), so Istio-style hosts carry over; a short name
 * also finds the one service named `<name>.<namespace>.svc.cluster.local` (a ServiceEntry host),
 * as Istio completes short names with the namespace. Undefined when none.
 */
export function serviceForHost(host: string, services: Map<string, ServiceConfig>): string | undefined {
  if (services.has(host)) return host;
  const first = host.split(".")[0]!;
  if (host.includes(".")) return services.has(first) ? first : undefined;
  const long = [...services.keys()].filter(
    (name) =>
      name.startsWith(`${host}.`) && name.endsWith(".svc.cluster.local") && name.split(".").length === 5,
  );
  return long.length === 1 ? long[0] : undefined;
}

function resolveService(
  host: string,
  at: FieldPath,
  { services, unknownServiceHint }: ServiceLookup,
  ctx: Reporter,
): string {
  if (!services) return host;
  const found = serviceForHost(host, services);
  if (found !== undefined) return found;
  const first = host.split(".")[0]!;
  ctx.report(
    at,
    unknownName("service", "services", host, [...services.keys()]) + (unknownServiceHint?.(first) ?? ""),
  );
  return host;
}

function destinationService(
  d: RawDestination,
  at: FieldPath,
  services: ServiceLookup,
  ctx: Reporter,
): string {
  return typeof d === "string"
    ? resolveService(d, at, services, ctx)
    : resolveService(d.host, [...at, "host"], services, ctx);
}

function subsetRef(d: RawDestination, at: FieldPath, ctx: Reporter): SubsetRef | undefined {
  if (typeof d === "string" || d.subset === undefined) return undefined;
  return { name: d.subset, source: ctx.source([...at, "subset"]) };
}

/** Istio's RouteDestination, as an HTTP, TCP or TLS route's `route` list holds them. */
export interface RawRouteDestination {
  destination: RawDestination;
  weight?: number;
  headers?: RawHeaders;
}

/** The `route` list at `at`: each host resolved to a service, with Istio's weight rule. */
export function buildDestinations(
  raw: RawRouteDestination[],
  at: FieldPath,
  services: ServiceLookup,
  ctx: Reporter,
): DestinationConfig[] {
  // Istio's rule: no weights means an equal split; once any is given, the others are 0.
  const weighted = raw.some((destination) => destination.weight !== undefined);
  const built = raw.map((destination, k) => {
    const service = destinationService(destination.destination, [...at, k, "destination"], services, ctx);
    const weight = weighted ? (destination.weight ?? 0) : 1;
    const out: DestinationConfig = { service, weight, source: ctx.source([...at, k]) };
    const subset = subsetRef(destination.destination, [...at, k, "destination"], ctx);
    if (subset) out.subset = subset;
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

function buildOperations(
  raw: RawHeaderOperations,
  at: FieldPath,
  ctx: Reporter,
): HeaderOperations | undefined {
  const pairs = (map: Record<string, string> | undefined, field: string): [string, string][] =>
    Object.entries(map ?? {}).map(([name, value]) => {
      const problem = headerNameProblem(name);
      if (problem) ctx.report([...at, field, name], problem);
      if (ENVOY_FORMATTER.test(value.replaceAll("%%", ""))) {
        ctx.report(
          [...at, field, name],
          "Envoy's %...% substitutions in header values are not supported by Portico; write a literal value",
        );
      }
      return [name.toLowerCase(), value.replaceAll("%%", "%")];
    });
  const set = pairs(raw.set, "set");
  const add = pairs(raw.add, "add");
  const remove = (raw.remove ?? []).map((name, k) => {
    const problem = headerNameProblem(name);
    if (problem) ctx.report([...at, "remove", k], problem);
    else if (name.toLowerCase() === "host")
      ctx.report(
        [...at, "remove", k],
        "the host header cannot be removed; use rewrite.authority to change it",
      );
    return name.toLowerCase();
  });
  if (set.length + add.length + remove.length === 0) return undefined;
  return { remove, set, add };
}

function buildHeaders(raw: RawHeaders, at: FieldPath, ctx: Reporter): HeadersConfig | undefined {
  const out: HeadersConfig = {};
  const request = raw.request && buildOperations(raw.request, [...at, "request"], ctx);
  const response = raw.response && buildOperations(raw.response, [...at, "response"], ctx);
  if (request) out.request = request;
  if (response) out.response = response;
  return request || response ? out : undefined;
}

// Istio's retry defaults (pilot's retry.DefaultPolicy): when `retryOn` is left out, these apply.
const DEFAULT_RETRY_ON: RetryCondition[] = [
  "connect-failure",
  "refused-stream",
  "unavailable",
  "cancelled",
  "retriable-status-codes",
];
const DEFAULT_RETRIABLE_STATUS = [503];

function buildRetries(raw: NonNullable<RawHttpRoute["retries"]>): RetryConfig {
  const out: RetryConfig = {
    attempts: raw.attempts,
    retryOn: DEFAULT_RETRY_ON,
    retriableStatusCodes: DEFAULT_RETRIABLE_STATUS,
    // Istio's HTTPRetry: "defaults to true" (pilot adds Envoy's previous_hosts retry predicate).
    retryIgnorePreviousHosts: raw.retryIgnorePreviousHosts ?? true,
  };
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
    if (codes.length > 0 && !conditions.includes("retriable-status-codes"))
      conditions.push("retriable-status-codes");
    out.retryOn = conditions;
    out.retriableStatusCodes = codes;
  }
  return out;
}

function buildFault(raw: NonNullable<RawHttpRoute["fault"]>): FaultConfig {
  const out: FaultConfig = {};
  // Istio: "If left unspecified, all requests will be delayed / aborted."
  if (raw.delay?.fixedDelay !== undefined) {
    out.delay = {
      fixedDelayMs: parseDuration(raw.delay.fixedDelay)!,
      percentage: raw.delay.percentage?.value ?? 100,
    };
  }
  if (raw.abort?.httpStatus !== undefined)
    out.abort = { httpStatus: raw.abort.httpStatus, percentage: raw.abort.percentage?.value ?? 100 };
  return out;
}

function buildMirrors(
  route: RawHttpRoute,
  at: FieldPath,
  services: ServiceLookup,
  ctx: Reporter,
): MirrorConfig[] {
  // Istio: "If this field [mirrorPercentage] is absent, all the traffic (100%) will be mirrored."
  if (route.mirror !== undefined) {
    const service = destinationService(route.mirror, [...at, "mirror"], services, ctx);
    const percentage = route.mirrorPercentage?.value ?? 100;
    const mirror: MirrorConfig = { service, percentage, source: ctx.source([...at, "mirror"]) };
    const subset = subsetRef(route.mirror, [...at, "mirror"], ctx);
    return [subset ? { ...mirror, subset } : mirror];
  }
  return (route.mirrors ?? []).map((m, k) => {
    const at_ = [...at, "mirrors", k, "destination"];
    const mirror: MirrorConfig = {
      service: destinationService(m.destination, at_, services, ctx),
      percentage: m.percentage?.value ?? 100,
      source: ctx.source([...at, "mirrors", k]),
    };
    const subset = subsetRef(m.destination, at_, ctx);
    return subset ? { ...mirror, subset } : mirror;
  });
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
