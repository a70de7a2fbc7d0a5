// HttpRouteConfig (plain data) → RoutePlan: every matcher becomes a closure, every regex is
// compiled once, header operations and CORS header values are computed here, so the request
// path only calls and reads. Semantics follow Istio's translation to Envoy (cited per feature).

import type {
  Config,
  CorsPolicyConfig,
  FaultConfig,
  HeaderOperations,
  HeadersConfig,
  HttpMatchConfig,
  HttpRouteConfig,
  PresenceMatch,
  RedirectConfig,
  RetryConfig,
  RewriteConfig,
  StringMatch,
  VirtualHostConfig,
} from "../config/model.ts";
import { NULL_BODY_STATUS } from "../config/http-route-schema.ts";
import { DEFAULT_UPGRADE_IDLE_TIMEOUT_MS } from "../config/defaults.ts";
import { captureGroups, compileRe2, compileSubstitution } from "../config/re2.ts";
import type { UpstreamTls } from "../upstream/types.ts";
import { portStart } from "../util/host-table.ts";
import { poolKey } from "./pools.ts";
import type {
  CorsPlan,
  FaultPlan,
  HeaderOps,
  MatchInput,
  PoolPlan,
  RetryPlan,
  RouteAction,
  RouteMatcher,
  RoutePlan,
  Upstream,
} from "./route-plan.ts";

const DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8";

export function compileRoute(
  r: HttpRouteConfig,
  i: number,
  vh: VirtualHostConfig,
  config: Config,
  serviceTls: Map<string, UpstreamTls>,
  pools: Map<string, PoolPlan>,
): RoutePlan {
  const plan: RoutePlan = {
    name: r.name ?? `${vh.hosts[0]}#${i}`,
    match: compileMatch(r.match),
    action: compileAction(r, config, serviceTls, pools),
  };
  if (r.corsPolicy) plan.cors = compileCors(r.corsPolicy);
  const fault = compileFault(r.fault);
  if (fault) plan.fault = fault;
  const responseOps = ops(r.headers?.response);
  if (responseOps) plan.responseOps = responseOps;
  if (r.maxRequestBodyBytes !== undefined) plan.maxRequestBodyBytes = r.maxRequestBodyBytes;
  return plan;
}

function compileAction(
  r: HttpRouteConfig,
  config: Config,
  serviceTls: Map<string, UpstreamTls>,
  pools: Map<string, PoolPlan>,
): RouteAction {
  if (r.directResponse) {
    const d = r.directResponse;
    const body = NULL_BODY_STATUS.has(d.status) ? null : (d.body ?? "");
    return { kind: "direct", status: d.status, body, contentType: d.contentType ?? DEFAULT_CONTENT_TYPE };
  }
  if (r.redirect)
    return { kind: "redirect", status: r.redirect.redirectCode, location: redirectLocation(r.redirect) };
  // The loader has already checked that every destination names a known service.
  const upstreams = r.destinations.map((d) =>
    upstream(d.service, d.subset?.name, d.weight, d.headers, config, serviceTls, pools),
  );
  const action: RouteAction = {
    kind: "proxy",
    upstreams,
    totalWeight: upstreams.reduce((a, u) => a + u.weight, 0),
    timeoutMs: r.timeoutMs,
    upgrades: r.websocket !== false,
    idleTimeoutMs: r.idleTimeoutMs ?? DEFAULT_UPGRADE_IDLE_TIMEOUT_MS,
  };
  if (r.rewrite) {
    const rewritePath = compileRewrite(r.rewrite, r.match);
    if (rewritePath) action.rewritePath = rewritePath;
    if (r.rewrite.authority !== undefined) action.authority = r.rewrite.authority;
  }
  const requestOps = ops(r.headers?.request);
  if (requestOps) action.requestOps = requestOps;
  const retry = compileRetry(r.retries);
  if (retry) action.retry = retry;
  if (r.mirrors && r.mirrors.length > 0) {
    action.mirrors = r.mirrors.map((m) => ({
      upstream: upstream(m.service, m.subset?.name, 1, undefined, config, serviceTls, pools),
      percentage: m.percentage,
    }));
  }
  return action;
}

function upstream(
  service: string,
  subset: string | undefined,
  weight: number,
  headers: HeadersConfig | undefined,
  config: Config,
  serviceTls: Map<string, UpstreamTls>,
  pools: Map<string, PoolPlan>,
): Upstream {
  // The loader has checked that the subset exists (config/subset-checks.ts).
  const key = poolKey(service, subset);
  const pool = pools.get(key)!;
  const svc = config.services.get(service)!;
  const u: Upstream = { service, origin: svc.url, weight, tls: serviceTls.get(key) };
  if (svc.protocol) u.protocol = svc.protocol;
  if (!pool.direct) u.pool = pool;
  const requestOps = ops(headers?.request);
  const responseOps = ops(headers?.response);
  if (requestOps) u.requestOps = requestOps;
  if (responseOps) u.responseOps = responseOps;
  return u;
}

function ops(o: HeaderOperations | undefined): HeaderOps | undefined {
  if (!o || o.remove.length + o.set.length + o.add.length === 0) return undefined;
  return { remove: [...o.remove], set: o.set.map(([n, v]) => [n, v]), add: o.add.map(([n, v]) => [n, v]) };
}

// ---------------------------------------------------------------------------------------------
// Matching (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPMatchRequest)

/** Istio's StringMatch; regexes are RE2 and match the whole value. */
export function stringTest(m: StringMatch, ignoreCase = false): (s: string) => boolean {
  switch (m.kind) {
    case "exact": {
      const v = ignoreCase ? m.value.toLowerCase() : m.value;
      return ignoreCase ? (s) => s.length === v.length && s.toLowerCase() === v : (s) => s === v;
    }
    case "prefix": {
      const v = ignoreCase ? m.value.toLowerCase() : m.value;
      const n = v.length;
      return ignoreCase ? (s) => s.length >= n && s.slice(0, n).toLowerCase() === v : (s) => s.startsWith(v);
    }
    case "regex": {
      // ignoreUriCase does not apply to regex matches (Istio: "only in the case of exact and prefix").
      const re = compileRe2(m.value, { fullMatch: true });
      return (s) => re.test(s);
    }
  }
}

/** A header or query parameter: an absent one (null) never matches; `{}` matches any present value. */
function presenceTest(m: PresenceMatch): (s: string | null) => boolean {
  if (m.kind === "present") return (s) => s !== null;
  const t = stringTest(m);
  return (s) => s !== null && t(s);
}

type Condition = (m: MatchInput) => boolean;

function all(conds: Condition[]): Condition {
  switch (conds.length) {
    case 0:
      return () => true;
    case 1:
      return conds[0]!;
    case 2: {
      const [a, b] = conds as [Condition, Condition];
      return (m) => a(m) && b(m);
    }
    default:
      return (m) => {
        for (const c of conds) if (!c(m)) return false;
        return true;
      };
  }
}

function query(m: MatchInput): URLSearchParams {
  // Istio matches the first value of a parameter, percent-decoded.
  return (m.query ??= new URLSearchParams(m.pathAndQuery.slice(m.path.length + 1)));
}

/** One match entry: every condition it has must hold. Cheap conditions first. */
function compileEntry(e: HttpMatchConfig): Condition {
  const conds: Condition[] = [];
  if (e.port !== undefined) {
    const port = e.port;
    conds.push((m) => m.port === port);
  }
  if (e.uri) {
    const t = stringTest(e.uri, e.ignoreUriCase === true);
    conds.push((m) => t(m.path));
  }
  if (e.method) {
    const t = stringTest(e.method);
    conds.push((m) => t(m.req.method));
  }
  if (e.scheme) {
    const t = stringTest(e.scheme);
    conds.push((m) => t(m.scheme));
  }
  if (e.authority) {
    const t = stringTest(e.authority);
    conds.push((m) => t(m.authority));
  }
  // Several values of one header are matched as one comma-joined value, as Envoy does.
  for (const h of e.headers ?? []) {
    const t = presenceTest(h.match);
    const name = h.name;
    conds.push((m) => t(m.req.headers.get(name)));
  }
  // withoutHeaders: "If a header is matched with a matching rule among withoutHeader, the
  // traffic becomes not matched one" (Envoy's invert_match; a missing header does not match).
  for (const h of e.withoutHeaders ?? []) {
    const t = presenceTest(h.match);
    const name = h.name;
    conds.push((m) => !t(m.req.headers.get(name)));
  }
  for (const q of e.queryParams ?? []) {
    const t = presenceTest(q.match);
    const name = q.name;
    conds.push((m) => t(query(m).get(name)));
  }
  return all(conds);
}

/** OR of the entries; the result says which one matched (a rewrite depends on it). */
export function compileMatch(entries: HttpMatchConfig[]): RouteMatcher | null {
  if (entries.length === 0) return null;
  const first = entries[0]!;
  if (entries.length === 1 && first.uri && Object.keys(first).length === 1 && first.uri.kind !== "regex") {
    // The common case, `match: [{ uri: ... }]`, in one closure.
    const v = first.uri.value;
    return first.uri.kind === "exact"
      ? (m) => (m.path === v ? 0 : -1)
      : (m) => (m.path.startsWith(v) ? 0 : -1);
  }
  const tests = entries.map(compileEntry);
  if (tests.length === 1) {
    const t = tests[0]!;
    return (m) => (t(m) ? 0 : -1);
  }
  return (m) => {
    for (let i = 0; i < tests.length; i++) if (tests[i]!(m)) return i;
    return -1;
  };
}

// ---------------------------------------------------------------------------------------------
// Redirect (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRedirect,
// as Envoy's RedirectAction builds the URL: RouteEntryImplBase::newUri)

function redirectLocation(r: RedirectConfig): (m: MatchInput) => string {
  const fixedPort = r.port !== undefined ? `:${r.port}` : undefined;
  const fromRequest = r.derivePort === "FROM_REQUEST_PORT";
  const protocolDefault = r.derivePort === "FROM_PROTOCOL_DEFAULT";
  return (m) => {
    const scheme = r.scheme ?? m.scheme;
    // FROM_REQUEST_PORT: Istio writes the port of the listener the route serves.
    const port = fixedPort ?? (fromRequest ? `:${m.port}` : "");
    const host = r.authority ?? requestHost(m.authority, scheme, m.scheme, port !== "" || protocolDefault);
    // "the entire path will be replaced, irrespective of the request URI being matched as an
    // exact path or prefix"; the query stays unless the new uri has its own (Envoy).
    const path =
      r.uri === undefined
        ? m.pathAndQuery
        : r.uri.includes("?")
          ? r.uri
          : r.uri + m.pathAndQuery.slice(m.path.length);
    return `${scheme}://${host}${port}${path}`;
  };
}

/**
 * The request's host for a redirect (Envoy's processRequestHost): its port is dropped when a new
 * one is set, or when the scheme changes and the port was the old scheme's default.
 */
function requestHost(host: string, newScheme: string, oldScheme: string, dropPort: boolean): string {
  const at = portStart(host);
  if (at < 0) return host;
  const port = host.slice(at);
  const defaultOfOld = (oldScheme === "https" && port === ":443") || (oldScheme === "http" && port === ":80");
  return dropPort || (newScheme !== oldScheme && defaultOfOld) ? host.slice(0, at) : host;
}

// ---------------------------------------------------------------------------------------------
// Rewrite (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRewrite)

function compileRewrite(
  rw: RewriteConfig,
  entries: HttpMatchConfig[],
): ((m: MatchInput, entry: number) => string) | undefined {
  if (rw.uriRegexRewrite) {
    // Envoy's regex_rewrite: every match in the path is substituted; the query is kept.
    const { match, rewrite } = rw.uriRegexRewrite;
    const re = compileRe2(match, { global: true });
    const sub = compileSubstitution(rewrite, captureGroups(match));
    if (!sub.ok)
      throw new Error(`invalid uriRegexRewrite substitution ${JSON.stringify(rewrite)}: ${sub.problem}`);
    const replace = sub.replace;
    return (m) => m.path.replace(re, replace) + m.pathAndQuery.slice(m.path.length);
  }
  if (rw.uri === undefined) return undefined;
  const uri = rw.uri;
  // "If the original URI was matched based on prefix, the value provided in this field will
  // replace the corresponding matched prefix" (Envoy prefix_rewrite); an exact or regex match
  // replaces the whole path. An entry without uri is routed by Istio as prefix "/".
  const prefixLength = entries.map((e) =>
    e.uri === undefined ? 1 : e.uri.kind === "prefix" ? e.uri.value.length : -1,
  );
  return (m, entry) => {
    const n = entry < 0 ? 1 : prefixLength[entry]!;
    return uri + (n < 0 ? "" : m.path.slice(n)) + m.pathAndQuery.slice(m.path.length);
  };
}

// ---------------------------------------------------------------------------------------------
// Retries (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry)

/** gRPC retry conditions and the grpc-status each one retries. */
const GRPC_STATUS: Record<string, string> = {
  cancelled: "1",
  "deadline-exceeded": "4",
  "resource-exhausted": "8",
  internal: "13",
  unavailable: "14",
};

function compileRetry(r: RetryConfig | undefined): RetryPlan | undefined {
  // Istio: attempts 0 turns retries off.
  if (!r || r.attempts === 0) return undefined;
  const on = new Set<string>(r.retryOn);
  return {
    attempts: r.attempts,
    perTryTimeoutMs: r.perTryTimeoutMs ?? 0,
    on5xx: on.has("5xx"),
    gatewayError: on.has("gateway-error"),
    reset: on.has("reset"),
    connectFailure: on.has("connect-failure"),
    retriable4xx: on.has("retriable-4xx"),
    refusedStream: on.has("refused-stream"),
    rateLimited: on.has("envoy-ratelimited"),
    statusCodes: new Set(on.has("retriable-status-codes") ? r.retriableStatusCodes : []),
    grpcStatuses: new Set([...on].filter((c) => c in GRPC_STATUS).map((c) => GRPC_STATUS[c]!)),
    ignorePreviousHosts: r.retryIgnorePreviousHosts,
  };
}

// ---------------------------------------------------------------------------------------------
// Fault injection and CORS

function compileFault(f: FaultConfig | undefined): FaultPlan | undefined {
  if (!f || (!f.delay && !f.abort)) return undefined;
  return {
    delayMs: f.delay?.fixedDelayMs ?? 0,
    delayPercentage: f.delay?.percentage ?? 0,
    abortStatus: f.abort?.httpStatus ?? 0,
    abortBody: f.abort && NULL_BODY_STATUS.has(f.abort.httpStatus) ? null : "fault filter abort",
    abortPercentage: f.abort?.percentage ?? 0,
  };
}

function compileCors(c: CorsPolicyConfig): CorsPlan {
  const tests = c.allowOrigins.map((m) => stringTest(m));
  // Envoy's CorsFilter::isOriginAllowed: a matcher that matches "*" allows every origin.
  const any = tests.some((t) => t("*"));
  return {
    allowOrigin: any ? () => true : (origin) => tests.some((t) => t(origin)),
    // Istio joins the lists with "," (and sends max_age in whole seconds).
    allowMethods: c.allowMethods.join(","),
    allowHeaders: c.allowHeaders.join(","),
    exposeHeaders: c.exposeHeaders.join(","),
    maxAge: c.maxAgeSeconds === undefined ? "" : String(c.maxAgeSeconds),
    allowCredentials: c.allowCredentials === true,
    forwardUnmatchedPreflights: c.unmatchedPreflights !== "IGNORE",
  };
}
