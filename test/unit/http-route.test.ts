// The VirtualService HTTP routing language (Istio's HTTPRoute), end to end: routes.yaml text →
// parseConfig → provision → createListenerHandler(...), against real Bun.serve upstreams that
// echo what they receive. Each table cites the Istio (or Envoy) doc section it checks, from
// https://istio.io/latest/docs/reference/config/networking/virtual-service/
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { DEFAULT_TIMEOUT_MS as DEFAULT_ROUTE_TIMEOUT_MS } from "../../src/config/defaults.ts";
import { parseHttpRoute } from "../../src/config/http-route-build.ts";
import type { Reporter } from "../../src/config/report.ts";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { compileSubstitution, translateRe2 } from "../../src/config/re2.ts";
import { createListenerHandler } from "../../src/http/app.ts";
import { shadowHost } from "../../src/http/mirror.ts";
import type { ConnectionInfo } from "../../src/listeners/_shared/types.ts";
import type { Plan } from "../../src/provision/plan.ts";
import { provision } from "../../src/provision/provision.ts";
import { createUpstreamClient } from "../../src/upstream/client.ts";
import { UpstreamClients } from "../../src/upstream/clients.ts";
import { freePort, sleep } from "../helpers/net.ts";
import { serveEcho, type Echo } from "../helpers/upstreams.ts";
import { routesYamlErrors as errors } from "../helpers/config-errors.ts";

const ROOT = resolve(import.meta.dir, "../..");
const CONN: ConnectionInfo = { remoteAddress: "10.1.2.3" };

/** Tries per key of the /flaky endpoint: how many times the proxy called it. */
const tries = new Map<string, number>();

const logA: Echo[] = [];
const logB: Echo[] = [];
let upA: ReturnType<typeof serveEcho>;
let upB: ReturnType<typeof serveEcho>;
let plan: Plan;

const config = (a: number, b: number, closed: number) => String.raw`
listeners:
  - { name: http, port: 8080, protocol: HTTP }
  - { name: second, port: 8081, protocol: HTTP }
  - name: https
    port: 8443
    protocol: HTTPS
    servers:
      - hosts: ["*"]
        tls: { credential: webapp }
credentials:
  webapp: ${join(ROOT, "certs/webapp-credential")}
services:
  a: http://127.0.0.1:${a}
  b: http://127.0.0.1:${b}
  closed: http://127.0.0.1:${closed}
routes:
  - hosts: [match.example]
    http:
      - match: [{ uri: { exact: /exact } }]
        directResponse: { status: 200, body: exact }
      - match: [{ uri: { prefix: /CI/ }, ignoreUriCase: true }]
        directResponse: { status: 200, body: ci-prefix }
      - match: [{ uri: { exact: /CiExact }, ignoreUriCase: true }]
        directResponse: { status: 200, body: ci-exact }
      - match: [{ uri: { regex: "/Rx[0-9]+" }, ignoreUriCase: true }]
        directResponse: { status: 200, body: rx-case-kept }
      - match: [{ uri: { regex: '(?i)/re2/[[:alpha:]]+\z' } }]
        directResponse: { status: 200, body: re2 }
      - match: [{ uri: { exact: /m }, method: { exact: POST } }]
        directResponse: { status: 200, body: post }
      - match: [{ uri: { exact: /m }, method: { regex: "GET|HEAD" } }]
        directResponse: { status: 200, body: get-or-head }
      - match: [{ uri: { exact: /m }, method: { prefix: P } }]
        directResponse: { status: 200, body: p-method }
      - match: [{ uri: { prefix: /h }, headers: { x-user: { exact: jason } } }]
        directResponse: { status: 200, body: jason }
      - match: [{ uri: { prefix: /h }, headers: { x-user: { prefix: ja } } }]
        directResponse: { status: 200, body: ja-prefix }
      - match: [{ uri: { prefix: /h }, headers: { x-user: { regex: "[a-z]+-[0-9]+" } } }]
        directResponse: { status: 200, body: user-regex }
      - match: [{ uri: { prefix: /h }, headers: { x-present: {} } }]
        directResponse: { status: 200, body: present }
      - match: [{ uri: { prefix: /h }, headers: { X-Upper: { exact: v } } }]
        directResponse: { status: 200, body: upper-name }
      - match: [{ uri: { prefix: /h }, withoutHeaders: { x-block: {} } }]
        directResponse: { status: 200, body: not-blocked }
      - match: [{ uri: { prefix: /h } }]
        directResponse: { status: 200, body: blocked }
      - match: [{ uri: { exact: /q }, queryParams: { v: { exact: "1" } } }]
        directResponse: { status: 200, body: q-exact }
      - match: [{ uri: { exact: /q }, queryParams: { id: { regex: '\d+' } } }]
        directResponse: { status: 200, body: q-regex }
      - match: [{ uri: { exact: /q }, queryParams: { flag: { exact: "" } } }]
        directResponse: { status: 200, body: q-empty }
      - match: [{ uri: { exact: /q }, queryParams: { any: {} } }]
        directResponse: { status: 200, body: q-present }
      - match: [{ uri: { exact: /s }, scheme: { exact: https } }]
        directResponse: { status: 200, body: https }
      - match: [{ uri: { exact: /a }, authority: { regex: 'match\.example:[0-9]+' } }]
        directResponse: { status: 200, body: authority-with-port }
      - match: [{ uri: { exact: /p }, port: 8081 }]
        directResponse: { status: 200, body: port-8081 }
      - match: [{ uri: { exact: /or-a } }, { headers: { x-or: { exact: "1" } } }]
        directResponse: { status: 200, body: or }
      - name: and
        match: [{ name: all-three, uri: { exact: /and }, headers: { x-and: { exact: "1" } }, method: { exact: GET } }]
        directResponse: { status: 200, body: and }
      - directResponse: { status: 200, body: fallback }
  - hosts: [rewrite.example]
    http:
      - match: [{ uri: { prefix: /api/v1 } }]
        rewrite: { uri: /v2 }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /strip/ } }]
        rewrite: { uri: / }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /slashless } }]
        rewrite: { uri: / }
        route: [{ destination: a }]
      - match: [{ uri: { exact: /old } }]
        rewrite: { uri: /new }
        route: [{ destination: a }]
      - match: [{ uri: { regex: "/re/[a-z]+" } }]
        rewrite: { uri: /fixed }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /one } }, { uri: { prefix: /second } }]
        rewrite: { uri: /x }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /CI }, ignoreUriCase: true }]
        rewrite: { uri: /ci-lower }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /service/ } }]
        rewrite: { uriRegexRewrite: { match: "^/service/([^/]+)(/.*)$", rewrite: '\2/instance/\1' } }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /g/ } }]
        rewrite: { uriRegexRewrite: { match: one, rewrite: two } }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /host } }]
        rewrite: { authority: upstream.internal }
        route: [{ destination: a }]
      - match: [{ headers: { x-rw: { exact: "1" } } }]
        rewrite: { uri: /base/ }
        route: [{ destination: a }]
      - route:
          - destination: { host: a.default.svc.cluster.local, port: { number: 80 } }
  - hosts: [redir.example]
    http:
      - match: [{ uri: { exact: /r1 } }]
        redirect: { uri: /new }
      - match: [{ uri: { exact: /r2 } }]
        redirect: { uri: "/new?b=2" }
      - match: [{ uri: { prefix: /r3 } }]
        redirect: { authority: other.example }
      - match: [{ uri: { exact: /r4 } }]
        redirect: { scheme: https }
      - match: [{ uri: { exact: /r5 } }]
        redirect: { scheme: https, derivePort: FROM_PROTOCOL_DEFAULT }
      - match: [{ uri: { exact: /r6 } }]
        redirect: { port: 8443, redirectCode: 302 }
      - match: [{ uri: { exact: /r7 } }]
        redirect: { derivePort: FROM_REQUEST_PORT, redirectCode: 308 }
  - hosts: [direct.example]
    http:
      - match: [{ uri: { exact: /istio } }]
        directResponse: { status: 503, body: { string: "unavailable\n" } }
      - match: [{ uri: { exact: /bytes } }]
        directResponse: { status: 200, body: { bytes: aGVsbG8= } }
      - match: [{ uri: { exact: /plain } }]
        directResponse: { status: 200, body: plain, contentType: text/html }
      - match: [{ uri: { exact: /nobody } }]
        directResponse: { status: 204 }
  - hosts: [headers.example]
    http:
      - match: [{ uri: { prefix: /ops } }]
        headers:
          request:
            set: { x-set: route, x-both: route, x-api-version: 2 }
            add: { x-add: added }
            remove: [x-remove-me]
          response:
            set: { x-frame-options: DENY }
            add: { x-upstream: also }
            remove: [x-remove-resp]
        route:
          - destination: a
            headers:
              request: { set: { x-both: destination, x-dest: a } }
              response: { set: { x-dest-resp: a } }
      - match: [{ uri: { prefix: /empty } }]
        headers: { request: { set: { x-drop: "" } } }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /direct } }]
        headers: { response: { set: { x-direct: "yes" } } }
        directResponse: { status: 200, body: d }
      - match: [{ uri: { prefix: /down } }]
        headers: { response: { set: { x-route: down } } }
        route: [{ destination: closed }]
  - hosts: [fault.example]
    http:
      - match: [{ uri: { prefix: /abort } }]
        fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /never } }]
        fault: { abort: { httpStatus: 500, percentage: { value: 0 } } }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /delay } }]
        timeout: 100ms
        fault: { delay: { fixedDelay: 200ms } }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /both } }]
        fault: { delay: { fixedDelay: 50ms }, abort: { httpStatus: 503 } }
        directResponse: { status: 200, body: never }
  - hosts: [retry.example]
    http:
      - match: [{ uri: { prefix: /r5xx/ } }]
        retries: { attempts: 2, retryOn: 5xx }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /rgw/ } }]
        retries: { attempts: 2, retryOn: gateway-error }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /rcode/ } }]
        retries: { attempts: 2, retryOn: "418" }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /r4xx/ } }]
        retries: { attempts: 2, retryOn: retriable-4xx }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /rdefault/ } }]
        retries: { attempts: 2 }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /rone/ } }]
        retries: { attempts: 1, retryOn: 5xx }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /rzero/ } }]
        retries: { attempts: 0, retryOn: 5xx }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /rpertry/ } }]
        timeout: 2s
        retries: { attempts: 2, perTryTimeout: 100ms, retryOn: 5xx }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /rdown } }]
        retries: { attempts: 2, retryOn: connect-failure }
        route: [{ destination: closed }]
  - hosts: [mirror.example]
    http:
      - match: [{ uri: { prefix: /all } }]
        route: [{ destination: a }]
        mirror: { host: b.default.svc.cluster.local, port: { number: 80 } }
      - match: [{ uri: { prefix: /none } }]
        route: [{ destination: a }]
        mirror: { host: b }
        mirrorPercentage: { value: 0 }
      - match: [{ uri: { prefix: /many } }]
        route: [{ destination: a }]
        mirrors: [{ destination: b }, { destination: { host: closed }, percentage: { value: 100 } }]
  - hosts: [cors.example]
    http:
      - match: [{ uri: { prefix: /open } }]
        corsPolicy: { allowOrigins: [{ exact: "*" }] }
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /ignore } }]
        corsPolicy:
          allowOrigins: [{ exact: https://example.com }]
          unmatchedPreflights: IGNORE
        route: [{ destination: a }]
      - corsPolicy:
          allowOrigins: [{ exact: https://example.com }, { regex: 'https://.*\.example\.org' }]
          allowMethods: [POST, GET]
          allowHeaders: [X-Foo-Bar, Content-Type]
          exposeHeaders: [X-Upstream]
          maxAge: 24h
          allowCredentials: true
        route: [{ destination: a }]
`;

beforeAll(async () => {
  upA = serveEcho("a", logA, tries);
  upB = serveEcho("b", logB, tries);
  const closed = await freePort();
  plan = (
    await provision(parseConfig(config(upA.port!, upB.port!, closed), join(ROOT, "routes.unit-test.yaml")))
  ).plan;
});

afterAll(async () => {
  await Promise.all([upA?.stop(true), upB?.stop(true)]);
});

const clients = new UpstreamClients((tls) => createUpstreamClient(tls));

function call(url: string, init?: RequestInit, listener = "http"): Promise<Response> {
  const current = plan.listeners.find((l) => l.name === listener)!;
  return Promise.resolve(
    createListenerHandler({ current, serverHeader: plan.serverHeader }, clients)(
      new Request(url, init),
      CONN,
    ),
  );
}

async function echo(url: string, init?: RequestInit): Promise<Echo> {
  const res = await call(url, init);
  expect(res.status).toBe(200);
  return (await res.json()) as Echo;
}

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPMatchRequest
// "All conditions inside a single match block have AND semantics, while the list of match
// blocks have OR semantics"; StringMatch regex is RE2, matched against the whole value.
describe("match: HTTPMatchRequest", () => {
  type Row = [string, string, RequestInit | undefined, string, string];
  const rows: Row[] = [
    ["uri exact", "http://match.example/exact", undefined, "http", "exact"],
    ["uri exact is exact", "http://match.example/exact/", undefined, "http", "fallback"],
    ["uri exact is case-sensitive", "http://match.example/EXACT", undefined, "http", "fallback"],
    // ignoreUriCase: "The case will be ignored only in the case of exact and prefix URI matches."
    ["ignoreUriCase prefix", "http://match.example/ci/x", undefined, "http", "ci-prefix"],
    ["ignoreUriCase prefix, same case", "http://match.example/CI/x", undefined, "http", "ci-prefix"],
    ["ignoreUriCase exact", "http://match.example/CIEXACT", undefined, "http", "ci-exact"],
    ["ignoreUriCase leaves regex case-sensitive", "http://match.example/rx1", undefined, "http", "fallback"],
    ["regex with ignoreUriCase, same case", "http://match.example/Rx1", undefined, "http", "rx-case-kept"],
    // StringMatch.regex: "RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"
    ["RE2 (?i), [[:alpha:]] and \\z", "http://match.example/RE2/Abc", undefined, "http", "re2"],
    ["RE2 class is letters only", "http://match.example/re2/abc1", undefined, "http", "fallback"],
    ["method exact", "http://match.example/m", { method: "POST" }, "http", "post"],
    ["method regex", "http://match.example/m", undefined, "http", "get-or-head"],
    ["method prefix", "http://match.example/m", { method: "PUT" }, "http", "p-method"],
    ["method: none matches", "http://match.example/m", { method: "DELETE" }, "http", "fallback"],
    // headers: "Header values are case-sensitive"; names are lower-case.
    ["header exact", "http://match.example/h", { headers: { "x-user": "jason" } }, "http", "jason"],
    ["header prefix", "http://match.example/h", { headers: { "x-user": "james" } }, "http", "ja-prefix"],
    ["header regex", "http://match.example/h", { headers: { "x-user": "bob-42" } }, "http", "user-regex"],
    [
      "header regex is a full, case-sensitive match",
      "http://match.example/h",
      { headers: { "x-user": "Bob-42" } },
      "http",
      "not-blocked",
    ],
    // "If the value is empty and only the name of header is specified, presence of the header is checked."
    [
      "header presence, empty value",
      "http://match.example/h",
      { headers: { "x-present": "" } },
      "http",
      "present",
    ],
    [
      "header names ignore case",
      "http://match.example/h",
      { headers: { "x-upper": "v" } },
      "http",
      "upper-name",
    ],
    // withoutHeaders: "If a header is matched with a matching rule among withoutHeader, the traffic becomes not matched one."
    ["withoutHeaders: header absent", "http://match.example/h", undefined, "http", "not-blocked"],
    [
      "withoutHeaders: header present",
      "http://match.example/h",
      { headers: { "x-block": "1" } },
      "http",
      "blocked",
    ],
    // queryParams: "?key=true" → exact "true"; "?key" → exact ""; regex matches the whole value.
    ["query exact", "http://match.example/q?v=1", undefined, "http", "q-exact"],
    ["query exact, other value", "http://match.example/q?v=2", undefined, "http", "fallback"],
    ["query: the first value counts", "http://match.example/q?v=2&v=1", undefined, "http", "fallback"],
    ["query regex", "http://match.example/q?id=123", undefined, "http", "q-regex"],
    ["query regex is a full match", "http://match.example/q?id=12a", undefined, "http", "fallback"],
    ["query values are percent-decoded", "http://match.example/q?id=%31%32", undefined, "http", "q-regex"],
    ['query "?key" is exact ""', "http://match.example/q?flag", undefined, "http", "q-empty"],
    ['query exact "" needs an empty value', "http://match.example/q?flag=1", undefined, "http", "fallback"],
    ["query presence", "http://match.example/q?any=whatever", undefined, "http", "q-present"],
    ["scheme https", "https://match.example/s", undefined, "https", "https"],
    ["scheme http", "http://match.example/s", undefined, "http", "fallback"],
    [
      "authority as sent, with its port",
      "http://match.example:8080/a",
      undefined,
      "http",
      "authority-with-port",
    ],
    ["authority without a port", "http://match.example/a", undefined, "http", "fallback"],
    // port: the port of the gateway listener the request arrived on.
    ["port of the listener", "http://match.example/p", undefined, "second", "port-8081"],
    ["port of another listener", "http://match.example/p", undefined, "http", "fallback"],
    ["OR: first block", "http://match.example/or-a", undefined, "http", "or"],
    ["OR: second block", "http://match.example/anything", { headers: { "x-or": "1" } }, "http", "or"],
    ["AND: all conditions", "http://match.example/and", { headers: { "x-and": "1" } }, "http", "and"],
    ["AND: header missing", "http://match.example/and", undefined, "http", "fallback"],
    [
      "AND: method differs",
      "http://match.example/and",
      { method: "POST", headers: { "x-and": "1" } },
      "http",
      "fallback",
    ],
  ];
  test.each(rows)("%s", async (_name, url, init, listener, want) => {
    const res = await call(url, init, listener);
    expect(await res.text()).toBe(want);
  });
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRewrite
// uri: "If the original URI was matched based on prefix, the value provided in this field will
// replace the corresponding matched prefix" (Envoy prefix_rewrite; exact and regex matches
// replace the whole path). uriRegexRewrite: RE2 match and substitution, as Envoy's regex_rewrite.
describe("rewrite: HTTPRewrite", () => {
  const rows: [string, string, Record<string, string> | undefined, string][] = [
    ["prefix replaced, rest and query kept", "/api/v1/items?x=1", undefined, "/v2/items?x=1"],
    ["prefix equal to the path", "/api/v1", undefined, "/v2"],
    ["prefix with its slash → /", "/strip/a/b", undefined, "/a/b"],
    ["exact match: whole path, query kept", "/old?q=1", undefined, "/new?q=1"],
    ["regex match: whole path", "/re/abc?z", undefined, "/fixed?z"],
    ["the prefix of the block that matched (first)", "/one/a", undefined, "/x/a"],
    ["the prefix of the block that matched (second)", "/second/b", undefined, "/x/b"],
    ["ignoreUriCase prefix", "/ci/y", undefined, "/ci-lower/y"],
    // The example of Istio's RegexRewrite doc.
    ["uriRegexRewrite with groups", "/service/foo/v1/api?x=1", undefined, "/v1/api/instance/foo?x=1"],
    ["uriRegexRewrite replaces every match", "/g/one/one", undefined, "/g/two/two"],
    ["no uri condition: as a prefix match on /", "/foo", { "x-rw": "1" }, "/base/foo"],
    ["no rewrite", "/plain?x", undefined, "/plain?x"],
  ];
  test.each(rows)("%s", async (_name, path, headers, want) => {
    const e = await echo(`http://rewrite.example${path}`, headers && { headers });
    expect(e.path).toBe(want);
  });

  test("prefix without its slash, rewritten to /, keeps the slash (Envoy's prefix_rewrite)", () => {
    // Checked on the compiled route: Bun's fetch sends a path starting "//" as "/" (bun 1.4.5),
    // while node:http (Deno, Node) sends it as is.
    const vhost = plan.listeners.find((l) => l.name === "http")!.vhosts.match("rewrite.example")!;
    const route = vhost.routes[2]!;
    const m = {
      path: "/slashless/a",
      pathAndQuery: "/slashless/a?x",
      req: new Request("http://x/"),
      scheme: "http" as const,
      authority: "x",
      port: 8080,
      clientCerts: plan.listeners[0]!.clientCerts,
      trust: { numTrustedProxies: 0, preserveExternalRequestId: false },
    };
    expect(route.action.kind === "proxy" && route.action.rewritePath!(m, route.match!(m))).toBe("//a?x");
  });

  test("authority: the upstream gets the new Host; x-forwarded-host keeps the client's", async () => {
    const e = await echo("http://rewrite.example:8080/host");
    expect(e.headers.host).toBe("upstream.internal");
    expect(e.headers["x-forwarded-host"]).toBe("rewrite.example:8080");
  });

  // https://istio.io/latest/docs/reference/config/networking/virtual-service/#Destination
  test("destination host a.default.svc.cluster.local routes to service a (port ignored)", async () => {
    expect((await echo("http://rewrite.example/anything")).who).toBe("a");
  });
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRedirect
// uri: "the entire path will be replaced, irrespective of the request URI being matched as an
// exact path or prefix"; redirectCode defaults to 301; derivePort FROM_PROTOCOL_DEFAULT /
// FROM_REQUEST_PORT. Host and port handling as Envoy's RedirectAction.
describe("redirect: HTTPRedirect", () => {
  const rows: [string, string, number, string][] = [
    [
      "uri: path replaced, query kept",
      "http://redir.example:8080/r1?a=1",
      301,
      "http://redir.example:8080/new?a=1",
    ],
    [
      "uri with a query replaces the query",
      "http://redir.example:8080/r2?a=1",
      301,
      "http://redir.example:8080/new?b=2",
    ],
    [
      "authority replaces host and port",
      "http://redir.example:8080/r3/x?y",
      301,
      "http://other.example/r3/x?y",
    ],
    [
      "scheme: a non-default port stays",
      "http://redir.example:8080/r4",
      301,
      "https://redir.example:8080/r4",
    ],
    ["scheme without a port", "http://redir.example/r4", 301, "https://redir.example/r4"],
    [
      "derivePort FROM_PROTOCOL_DEFAULT drops the port",
      "http://redir.example:8080/r5",
      301,
      "https://redir.example/r5",
    ],
    ["port and redirectCode", "http://redir.example:8080/r6", 302, "http://redir.example:8443/r6"],
    [
      "derivePort FROM_REQUEST_PORT: the listener's port",
      "http://redir.example:9999/r7",
      308,
      "http://redir.example:8080/r7",
    ],
  ];
  test.each(rows)("%s", async (_name, url, status, location) => {
    const res = await call(url);
    expect(res.status).toBe(status);
    expect(res.headers.get("location")).toBe(location);
    expect(res.headers.get("content-length")).toBe("0");
    expect(await res.text()).toBe("");
  });
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPDirectResponse
// and #HTTPBody (string or bytes); the native plain string and contentType still work.
describe("directResponse: HTTPDirectResponse", () => {
  const rows: [string, string, number, string, string | null][] = [
    ["body.string", "/istio", 503, "unavailable\n", "text/plain; charset=utf-8"],
    ["body.bytes (base64)", "/bytes", 200, "hello", "text/plain; charset=utf-8"],
    ["plain string and contentType", "/plain", 200, "plain", "text/html"],
    ["204 has no body", "/nobody", 204, "", "text/plain; charset=utf-8"],
  ];
  test.each(rows)("%s", async (_name, path, status, body, type) => {
    const res = await call(`http://direct.example${path}`);
    expect(res.status).toBe(status);
    expect(await res.text()).toBe(body);
    expect(res.headers.get("content-type")).toBe(type);
  });
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#Headers
// set overwrites, add appends, remove removes; per-destination operations apply only to that
// destination, and the route's are applied after them (Envoy: enclosing level last).
describe("headers: request and response operations", () => {
  test("request: set, add, remove; route level after destination level", async () => {
    const e = await echo("http://headers.example/ops", {
      headers: { "x-add": "client", "x-remove-me": "1", "x-set": "client" },
    });
    expect(e.headers["x-set"]).toBe("route");
    expect(e.headers["x-both"]).toBe("route");
    expect(e.headers["x-dest"]).toBe("a");
    expect(e.headers["x-api-version"]).toBe("2");
    expect(e.headers["x-add"]).toBe("client, added");
    expect(e.headers["x-remove-me"]).toBeUndefined();
  });

  test("response: set, add, remove, and the destination's own", async () => {
    const res = await call("http://headers.example/ops");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-upstream")).toBe("yes, also");
    expect(res.headers.get("x-remove-resp")).toBeNull();
    expect(res.headers.get("x-dest-resp")).toBe("a");
  });

  test('set with "" removes the header', async () => {
    const e = await echo("http://headers.example/empty", { headers: { "x-drop": "1" } });
    expect(e.headers["x-drop"]).toBeUndefined();
  });

  test("response operations also apply to direct responses and upstream errors", async () => {
    expect((await call("http://headers.example/direct")).headers.get("x-direct")).toBe("yes");
    const down = await call("http://headers.example/down");
    expect(down.status).toBe(503);
    expect(down.headers.get("x-route")).toBe("down");
  });
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPFaultInjection
// "If left unspecified, all requests will be delayed/aborted"; Envoy's fault filter answers an
// abort with "fault filter abort"; the delay happens before forwarding, outside the route timeout.
describe("fault: HTTPFaultInjection", () => {
  test("abort 100%: the status and Envoy's body, no upstream call", async () => {
    const before = logA.length;
    const res = await call("http://fault.example/abort");
    expect(res.status).toBe(418);
    expect(await res.text()).toBe("fault filter abort");
    expect(logA.length).toBe(before);
  });

  test("abort 0%: forwarded", async () => {
    expect((await echo("http://fault.example/never")).who).toBe("a");
  });

  test("delay: waits, and does not count against the 100ms route timeout", async () => {
    const started = performance.now();
    const res = await call("http://fault.example/delay");
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  test("delay then abort, on a direct-response route", async () => {
    const started = performance.now();
    const res = await call("http://fault.example/both");
    expect(res.status).toBe(503);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry with
// Envoy's retry conditions (x-envoy-retry-on); numbers in retryOn are retriable status codes;
// without retryOn, Istio's default: connect-failure,refused-stream,unavailable,cancelled,
// retriable-status-codes (503). attempts counts retries; the last response is returned.
describe("retries: HTTPRetry", () => {
  const rows: [string, number, number, number, number][] = [
    // prefix, failures, failure status, expected status, expected tries
    ["r5xx", 1, 503, 200, 2],
    ["r5xx", 2, 500, 200, 3],
    ["r5xx", 3, 502, 502, 3],
    ["rgw", 1, 500, 500, 1],
    ["rgw", 1, 504, 200, 2],
    ["rcode", 1, 418, 200, 2],
    ["rcode", 1, 503, 503, 1],
    ["r4xx", 1, 409, 200, 2],
    ["rdefault", 1, 503, 200, 2],
    ["rdefault", 1, 502, 502, 1],
    ["rone", 2, 503, 503, 2],
    ["rzero", 1, 503, 503, 1],
  ];
  test.each(rows)("/%s: %i × %i → %i after %i tries", async (prefix, fail, status, wantStatus, wantTries) => {
    const key = crypto.randomUUID();
    const res = await call(`http://retry.example/${prefix}/flaky?key=${key}&fail=${fail}&status=${status}`);
    expect(res.status).toBe(wantStatus);
    await res.arrayBuffer();
    expect(tries.get(key)).toBe(wantTries);
  });

  // A Request built in a test has no Content-Length of its own; what a server hands over does.
  test("a small body with a length is replayed on each try", async () => {
    const key = crypto.randomUUID();
    const e = await echo(`http://retry.example/r5xx/flaky?key=${key}&fail=1`, {
      method: "POST",
      body: "payload",
      headers: { "content-length": "7" },
    });
    expect(e.body).toBe("payload");
    expect(tries.get(key)).toBe(2);
  });

  test("a body without a length streams once: no retry", async () => {
    const key = crypto.randomUUID();
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("streamed"));
        c.close();
      },
    });
    const res = await call(`http://retry.example/r5xx/flaky?key=${key}&fail=1`, {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(503);
    expect(tries.get(key)).toBe(1);
  });

  test("perTryTimeout: a slow first try is abandoned and retried", async () => {
    const key = crypto.randomUUID();
    const started = performance.now();
    const res = await call(`http://retry.example/rpertry/flaky?key=${key}&slow=1`);
    expect(res.status).toBe(200);
    expect(tries.get(key)).toBe(2);
    expect(performance.now() - started).toBeLessThan(290);
  });

  test("connect-failure: retried, then 503 with the reason", async () => {
    const res = await call("http://retry.example/rdown");
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("connection refused");
  });
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute (mirror,
// mirrorPercentage, mirrors): fire and forget; Envoy appends "-shadow" to the Host.
describe("mirror: HTTPRoute.mirror and mirrors", () => {
  async function seenByB(marker: string, waitMs = 2_000): Promise<Echo | undefined> {
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      const hit = logB.find((e) => e.path.includes(marker));
      if (hit) return hit;
      await sleep(10);
    }
    return undefined;
  }

  test("100%: the copy reaches b with a -shadow host and the same body; the client gets a's answer", async () => {
    const marker = crypto.randomUUID();
    const e = await echo(`http://mirror.example:8080/all?id=${marker}`, {
      method: "POST",
      body: "copy me",
      headers: { "content-length": "7" },
    });
    expect(e.who).toBe("a");
    const copy = await seenByB(marker);
    expect(copy?.headers.host).toBe("mirror.example-shadow:8080");
    expect(copy?.body).toBe("copy me");
    expect(copy?.method).toBe("POST");
  });

  test("mirrorPercentage 0: no copy", async () => {
    const marker = crypto.randomUUID();
    await echo(`http://mirror.example/none?id=${marker}`);
    expect(await seenByB(marker, 200)).toBeUndefined();
  });

  test("mirrors: every entry gets a copy; a failing mirror changes nothing", async () => {
    const marker = crypto.randomUUID();
    expect((await echo(`http://mirror.example/many?id=${marker}`)).who).toBe("a");
    expect((await seenByB(marker))?.headers.host).toBe("mirror.example-shadow");
  });

  test.each([
    ["webapp.example", "webapp.example-shadow"],
    ["webapp.example:8080", "webapp.example-shadow:8080"],
    ["[::1]:8080", "[::1]-shadow:8080"],
  ])("shadowHost(%p) = %p", (host, want) => {
    expect(shadowHost(host)).toBe(want);
  });
});

// https://istio.io/latest/docs/reference/config/networking/virtual-service/#CorsPolicy, as
// Envoy's CORS filter applies it (cors_filter.cc): preflights from allowed origins are answered
// by the proxy; responses to allowed origins carry allow-origin, allow-credentials and
// expose-headers; unmatchedPreflights FORWARD (default) or IGNORE.
describe("corsPolicy: CorsPolicy", () => {
  const preflight = (origin: string) => ({
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "x-foo-bar",
    },
  });

  test("preflight from an allowed origin: answered here with every configured header", async () => {
    const before = logA.length;
    const res = await call("http://cors.example/api", preflight("https://example.com"));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    expect(logA.length).toBe(before);
    expect(Object.fromEntries([...res.headers].filter(([n]) => n.startsWith("access-control-")))).toEqual({
      "access-control-allow-origin": "https://example.com",
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "POST,GET",
      "access-control-allow-headers": "X-Foo-Bar,Content-Type",
      "access-control-max-age": "86400",
    });
  });

  test("a regex origin", async () => {
    const res = await call("http://cors.example/api", preflight("https://shop.example.org"));
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example.org");
  });

  test("preflight from another origin is forwarded (unmatchedPreflights FORWARD), without CORS headers", async () => {
    const res = await call("http://cors.example/api", preflight("https://evil.example"));
    const e = (await res.json()) as Echo;
    expect(e.method).toBe("OPTIONS");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("unmatchedPreflights IGNORE: a bare 200, nothing forwarded", async () => {
    const before = logA.length;
    const res = await call("http://cors.example/ignore", preflight("https://evil.example"));
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(logA.length).toBe(before);
  });

  test("an actual request from an allowed origin: the upstream's answer plus CORS headers", async () => {
    const res = await call("http://cors.example/api", { headers: { origin: "https://example.com" } });
    expect(((await res.json()) as Echo).who).toBe("a");
    expect(res.headers.get("access-control-allow-origin")).toBe("https://example.com");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-expose-headers")).toBe("X-Upstream");
  });

  test("an actual request from another origin: no CORS headers", async () => {
    const res = await call("http://cors.example/api", { headers: { origin: "https://evil.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("OPTIONS without Access-Control-Request-Method is not a preflight", async () => {
    const res = await call("http://cors.example/api", {
      method: "OPTIONS",
      headers: { origin: "https://example.com" },
    });
    expect(((await res.json()) as Echo).method).toBe("OPTIONS");
    expect(res.headers.get("access-control-allow-origin")).toBe("https://example.com");
  });

  test('allowOrigins exact "*" allows any origin, echoed back', async () => {
    const res = await call("http://cors.example/open", preflight("https://anyone.example"));
    expect(res.headers.get("access-control-allow-origin")).toBe("https://anyone.example");
  });
});

// ---------------------------------------------------------------------------------------------
// Validation: every problem named with file, line and field; Istio fields Portico does not
// implement are reported, never dropped.

/** routes.yaml with one route entry, given as top-level lines; its first line is line 6. */
function oneRoute(route: string): string {
  const body = route.split("\n").map((line, i) => (i === 0 ? `      - ${line}` : `        ${line}`));
  return [
    "listeners: [{ port: 8080, protocol: HTTP }]",
    "services: { a: http://a, b: http://b }",
    "routes:",
    '  - hosts: ["*"]',
    "    http:",
    ...body,
    "",
  ].join("\n");
}

describe("validation errors", () => {
  const rows: [string, string, string[]][] = [
    [
      "two of route, redirect and directResponse",
      "route: [{ destination: a }]\nredirect: { uri: /x }",
      [
        "routes.yaml:6: routes[0].http[0]: expected exactly one of route, redirect or directResponse, got route and redirect",
      ],
    ],
    [
      "none of them",
      "name: empty",
      ["routes.yaml:6: routes[0].http[0]: expected one of route, redirect or directResponse"],
    ],
    [
      "delegate",
      "delegate: { name: reviews }",
      [
        'routes.yaml:6: routes[0].http[0].delegate: field "delegate" is not supported by Portico: VirtualService delegation is not supported; write the routes inline',
      ],
    ],
    [
      "a destination subset its service does not define",
      "route: [{ destination: { host: a, subset: v1 } }]",
      [
        'routes.yaml:6: routes[0].http[0].route[0].destination.subset: unknown subset "v1" of service "a": it has no subsets; define them in a DestinationRule for host a (or under services.a.subsets in routes.yaml)',
      ],
    ],
    [
      "match.sourceLabels, gateways, sourceNamespace, statPrefix",
      "match: [{ sourceLabels: { app: x }, gateways: [g], sourceNamespace: ns, statPrefix: p }]\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].match[0].sourceLabels: field "sourceLabels" is not supported by Portico: Portico is an edge proxy; requests do not come from labelled workloads',
        'routes.yaml:6: routes[0].http[0].match[0].gateways: field "gateways" is not supported by Portico: routes apply to every listener their hosts are served on; use match.port to pick a listener',
        'routes.yaml:6: routes[0].http[0].match[0].sourceNamespace: field "sourceNamespace" is not supported by Portico: Portico is an edge proxy; requests do not come from a namespace',
        'routes.yaml:6: routes[0].http[0].match[0].statPrefix: field "statPrefix" is not supported by Portico: Portico keeps no per-route statistics',
      ],
    ],
    [
      "fault.abort.grpcStatus",
      "fault: { abort: { grpcStatus: UNAVAILABLE } }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].fault.abort.grpcStatus: field "grpcStatus" is not supported by Portico: Portico aborts with an HTTP status; use httpStatus',
      ],
    ],
    [
      "deprecated mirrorPercent",
      "mirror: { host: b }\nmirrorPercent: 50\nroute: [{ destination: a }]",
      [
        'routes.yaml:7: routes[0].http[0].mirrorPercent: field "mirrorPercent" is not supported by Portico: deprecated in Istio; use mirrorPercentage: { value: N }',
      ],
    ],
    [
      "retries.retryRemoteLocalities",
      "retries: { attempts: 2, retryRemoteLocalities: true }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].retries.retryRemoteLocalities: field "retryRemoteLocalities" is not supported by Portico: Portico has no localities',
      ],
    ],
    [
      "deprecated corsPolicy.allowOrigin",
      "corsPolicy: { allowOrigin: ['*'] }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].corsPolicy.allowOrigin: field "allowOrigin" is not supported by Portico: deprecated in Istio; use allowOrigins: [{ exact: "https://example.com" }]',
      ],
    ],
    [
      "queryParams prefix",
      "match: [{ queryParams: { id: { prefix: a } } }]\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].match[0].queryParams.id.prefix: field "prefix" is not supported by Portico: Istio does not support prefix matching of query parameters; use regex, as in regex: "abc.*"',
      ],
    ],
    [
      "RE2 has no lookahead",
      "match: [{ uri: { regex: '/a(?=b)' } }]\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].match[0].uri.regex: expected an RE2 regular expression, got "/a(?=b)" (lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported by RE2)',
      ],
    ],
    [
      "RE2 has no backreferences",
      "match: [{ headers: { x: { regex: '(a)\\1' } } }]\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].match[0].headers.x.regex: expected an RE2 regular expression, got "(a)\\\\1" (backreferences like \\1 are not supported by RE2)',
      ],
    ],
    [
      "a regex that does not compile",
      "match: [{ method: { regex: '(GET' } }]\nroute: [{ destination: a }]",
      [
        `routes.yaml:6: routes[0].http[0].match[0].method.regex: expected an RE2 regular expression, got "(GET" (${regexError("(GET")})`,
      ],
    ],
    [
      "percentage above 100",
      "fault: { abort: { httpStatus: 503, percentage: { value: 150 } } }\nroute: [{ destination: a }]",
      [
        "routes.yaml:6: routes[0].http[0].fault.abort.percentage.value: expected a percentage from 0 to 100, got 150",
      ],
    ],
    [
      "negative percentage",
      "mirror: b\nmirrorPercentage: { value: -1 }\nroute: [{ destination: a }]",
      [
        "routes.yaml:7: routes[0].http[0].mirrorPercentage.value: expected a percentage from 0 to 100, got -1",
      ],
    ],
    [
      "a redirect code Envoy does not have",
      "redirect: { uri: /x, redirectCode: 300 }",
      ["routes.yaml:6: routes[0].http[0].redirect.redirectCode: expected 301, 302, 303, 307 or 308, got 300"],
    ],
    [
      "redirect port and derivePort",
      "redirect: { port: 8443, derivePort: FROM_REQUEST_PORT }",
      ["routes.yaml:6: routes[0].http[0].redirect: expected one of port or derivePort, got both"],
    ],
    [
      "an empty redirect",
      "redirect: { redirectCode: 302 }",
      [
        "routes.yaml:6: routes[0].http[0].redirect: expected at least one of uri, authority, scheme, port or derivePort",
      ],
    ],
    [
      "rewrite with redirect",
      "redirect: { uri: /x }\nrewrite: { uri: /y }",
      ["routes.yaml:7: routes[0].http[0].rewrite: only allowed with route, not with redirect"],
    ],
    [
      "rewrite uri and uriRegexRewrite",
      "rewrite: { uri: /y, uriRegexRewrite: { match: a, rewrite: b } }\nroute: [{ destination: a }]",
      ["routes.yaml:6: routes[0].http[0].rewrite: expected one of uri or uriRegexRewrite, got both"],
    ],
    [
      "a substitution naming a group the pattern lacks",
      "rewrite: { uriRegexRewrite: { match: '^/(a)/(b)$', rewrite: '/\\3' } }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].rewrite.uriRegexRewrite.rewrite: invalid substitution "/\\\\3": \\3 refers to capture group 3, but the pattern has only 2 groups',
      ],
    ],
    [
      "an unknown retry condition",
      "retries: { attempts: 2, retryOn: '5xx,gatway-error' }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].retries.retryOn: unknown retry condition "gatway-error"; did you mean "gateway-error"?',
      ],
    ],
    [
      "a retry condition Portico cannot honour",
      "retries: { attempts: 2, retryOn: retriable-headers }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].retries.retryOn: retry condition "retriable-headers" is not supported by Portico: Istio cannot configure the response headers it needs',
      ],
    ],
    [
      "perTryTimeout under 1ms",
      "retries: { attempts: 2, perTryTimeout: 0s }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].retries.perTryTimeout: expected a duration of at least 1ms, got "0s"',
      ],
    ],
    [
      "a bad header name",
      "headers: { request: { set: { 'x bad': v } } }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].headers.request.set["x bad"]: invalid header name "x bad": expected letters, digits, "-" and "_"',
      ],
    ],
    [
      "an Envoy formatter in a header value",
      "headers: { request: { set: { x-ip: '%DOWNSTREAM_REMOTE_ADDRESS%' } } }\nroute: [{ destination: a }]",
      [
        "routes.yaml:6: routes[0].http[0].headers.request.set.x-ip: Envoy's %...% substitutions in header values are not supported by Portico; write a literal value",
      ],
    ],
    [
      "removing host",
      "headers: { request: { remove: [Host] } }\nroute: [{ destination: a }]",
      [
        "routes.yaml:6: routes[0].http[0].headers.request.remove[0]: the host header cannot be removed; use rewrite.authority to change it",
      ],
    ],
    [
      "matching uri as a header",
      "match: [{ headers: { uri: { exact: /x } } }]\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].match[0].headers.uri: Istio ignores "uri" as a header name; use match.uri instead',
      ],
    ],
    [
      "a mirror to an unknown service",
      "mirror: { host: bb.default.svc.cluster.local }\nroute: [{ destination: a }]",
      [
        'routes.yaml:6: routes[0].http[0].mirror.host: unknown service "bb.default.svc.cluster.local"; known services: a, b',
      ],
    ],
    [
      "mirror and mirrors",
      "mirror: b\nmirrors: [{ destination: b }]\nroute: [{ destination: a }]",
      [
        "routes.yaml:7: routes[0].http[0].mirrors: mirror and mirrors cannot be used together; list every mirror under mirrors",
      ],
    ],
    [
      "a 204 direct response with a body",
      "directResponse: { status: 204, body: { string: x } }",
      ["routes.yaml:6: routes[0].http[0].directResponse.body: a 204 response has no body"],
    ],
    [
      "fault with neither delay nor abort",
      "fault: {}\nroute: [{ destination: a }]",
      ["routes.yaml:6: routes[0].http[0].fault: expected delay, abort or both"],
    ],
  ];
  test.each(rows)("%s", (_name, route, want) => {
    expect(errors(oneRoute(route))).toEqual(want);
  });
});

function regexError(source: string): string {
  try {
    new RegExp(source);
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}

// The API the Istio VirtualService loader uses for spec.http[] entries, with its own context.
describe("parseHttpRoute: the shared builder", () => {
  function context() {
    const issues: { path: string; message: string }[] = [];
    const ctx: Reporter = {
      source: (path) => ({ file: "vs.yaml", line: 0, path: path.join(".") }),
      report: (path, message) => issues.push({ path: path.join("."), message }),
    };
    return { ctx, issues };
  }
  const services = new Map([
    [
      "reviews",
      {
        name: "reviews",
        url: "http://127.0.0.1:1",
        host: "127.0.0.1",
        port: 1,
        source: { file: "", line: 0, path: "" },
      },
    ],
  ]);

  test("a VirtualService http entry builds with Istio hosts resolved to services", () => {
    const { ctx, issues } = context();
    const raw = {
      name: "reviews-v2-routes",
      match: [{ uri: { prefix: "/wpcatalog" } }, { uri: { prefix: "/consumercatalog" } }],
      rewrite: { uri: "/newcatalog" },
      route: [{ destination: { host: "reviews.prod.svc.cluster.local" } }],
    };
    const built = parseHttpRoute(raw, ["spec", "http", 0], { services }, DEFAULT_ROUTE_TIMEOUT_MS, ctx);
    expect(issues).toEqual([]);
    expect(built?.destinations.map((d) => d.service)).toEqual(["reviews"]);
    expect(built?.rewrite).toEqual({ uri: "/newcatalog" });
    expect(built?.source.path).toBe("spec.http.0");
  });

  test("an unknown host, with the caller's hint", () => {
    const { ctx, issues } = context();
    const raw = { route: [{ destination: { host: "ratings.prod.svc.cluster.local" } }] };
    parseHttpRoute(
      raw,
      ["spec", "http", 1],
      { services, unknownServiceHint: (s) => `; give its address with --service ${s}=http://HOST:PORT` },
      15_000,
      ctx,
    );
    expect(issues).toEqual([
      {
        path: "spec.http.1.route.0.destination.host",
        message:
          'unknown service "ratings.prod.svc.cluster.local"; known services: reviews; give its address with --service ratings=http://HOST:PORT',
      },
    ]);
  });

  test("problems are reported under the caller's path", () => {
    const { ctx, issues } = context();
    const built = parseHttpRoute(
      { route: [{ destination: { host: "ratings", subset: "V1" } }] },
      ["spec", "http", 3],
      { services },
      15_000,
      ctx,
    );
    expect(built).toBeUndefined();
    expect(issues.map((i) => i.path)).toEqual(["spec.http.3.route.0.destination.subset"]);
  });
});

describe("RE2 → JavaScript", () => {
  test.each([
    ["(?i)abc", "abc", "i"],
    ["[[:digit:]]+", "[0-9]+", ""],
    ["[]a]", "[\\]a]", ""],
    ["(?P<id>[0-9]+)", "(?<id>[0-9]+)", ""],
    ["a\\z", "a(?![\\s\\S])", ""],
    ["\\pL+", "\\p{L}+", "u"],
  ])("%p → /%s/%s", (re2, source, flags) => {
    expect(translateRe2(re2)).toEqual({ ok: true, source, flags });
  });

  test("substitution: \\0, \\1 and \\\\", () => {
    const sub = compileSubstitution("<\\0|\\1|\\\\>", 1);
    expect(sub.ok && "x-y".replace(/(x)-y/, sub.replace)).toBe("<x-y|x|\\>");
  });
});
