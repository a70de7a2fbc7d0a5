// The HTTP core (virtual host → route → redirect | direct response | proxy) driven through
// the listener handler, on a Plan built from routes.yaml text, against real Bun.serve upstreams.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate as NodeX509 } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { createListenerHandler, splitUrl } from "../../src/http/app.ts";
import type { ConnectionInfo, PeerCertificate } from "../../src/listeners/_shared/types.ts";
import type { Plan } from "../../src/provision/plan.ts";
import { provision } from "../../src/provision/provision.ts";
import { createUpstreamClient } from "../../src/upstream/client.ts";
import { UpstreamClients } from "../../src/upstream/clients.ts";
import { freePort } from "../helpers/net.ts";
import { serveEcho, type Echo } from "../helpers/upstreams.ts";
import { book } from "../helpers/book.ts";

const ROOT = resolve(import.meta.dir, "../..");
const CLIENT_IP = "10.1.2.3";
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const CONN: ConnectionInfo = { remoteAddress: CLIENT_IP };

let upA: ReturnType<typeof serveEcho>;
let upB: ReturnType<typeof serveEcho>;
let closedPort: number;
let plan: Plan;
let quietPlan: Plan;

function configYaml(a: number, b: number, closed: number, extraSettings = ""): string {
  return `
${extraSettings}
listeners:
  - name: http
    port: 8080
    protocol: HTTP
  - name: limited
    port: 8081
    protocol: HTTP
    hosts: [only.example]
  - name: redirect
    port: 8082
    protocol: HTTP
    hosts: [webapp.istioinaction.io]
    httpsRedirect: true
  - name: redirect-default
    port: 8083
    protocol: HTTP
    hosts: [elsewhere.example]
    httpsRedirect: true
  - name: https
    port: 8443
    protocol: HTTPS
    servers:
      - hosts: [webapp.istioinaction.io]
        tls: { credential: webapp }
  - name: https-mtls
    port: 9443
    protocol: HTTPS
    servers:
      - hosts: [webapp.istioinaction.io]
        tls: { mode: MUTUAL, credential: webapp-mtls }
      - hosts: [catalog.istioinaction.io]
        tls: { credential: catalog }
credentials:
  webapp: ${join(ROOT, "certs/webapp-credential")}
  webapp-mtls: ${join(ROOT, "certs/webapp-credential-mtls")}
  catalog: ${join(ROOT, "certs/catalog-credential")}
services:
  a: http://127.0.0.1:${a}
  b: http://127.0.0.1:${b}
  closed: http://127.0.0.1:${closed}
routes:
  - hosts: [routes.example]
    http:
      - name: first
        match: [{ uri: { prefix: /first } }]
        directResponse: { status: 200, body: first-prefix }
      - name: shadowed
        match: [{ uri: { exact: /first/exact } }]
        directResponse: { status: 200, body: shadowed }
      - match: [{ uri: { exact: /exact } }]
        directResponse: { status: 200, body: exact }
      - match: [{ uri: { regex: "/api/v[0-9]+" } }]
        directResponse: { status: 200, body: regex }
      - match: [{ uri: { prefix: /api } }]
        directResponse: { status: 200, body: api-prefix }
      - match: [{ uri: { exact: /multi-a } }, { uri: { exact: /multi-b } }]
        directResponse: { status: 200, body: multi }
      - match: [{ uri: { exact: /teapot } }]
        directResponse: { status: 418, body: '{"tea":true}', contentType: application/json }
      - match: [{ uri: { exact: /empty } }]
        directResponse: { status: 204 }
  - hosts: [only.example]
    http:
      - directResponse: { status: 200, body: only }
  - hosts: ["*.wild.example"]
    http:
      - directResponse: { status: 200, body: wild }
  - hosts: [proxy.example, webapp.istioinaction.io, catalog.istioinaction.io]
    http:
      - match: [{ uri: { prefix: /slow } }]
        timeout: 100ms
        route: [{ destination: a }]
      - match: [{ uri: { prefix: /weighted-10 } }]
        route: [{ destination: a, weight: 1 }, { destination: b, weight: 0 }]
      - match: [{ uri: { prefix: /weighted-50 } }]
        route: [{ destination: a, weight: 50 }, { destination: b, weight: 50 }]
      - match: [{ uri: { prefix: /down } }]
        route: [{ destination: closed }]
      - route: [{ destination: a }]
`;
}

beforeAll(async () => {
  upA = serveEcho("a");
  upB = serveEcho("b");
  closedPort = await freePort();
  const file = join(ROOT, "routes.unit-test.yaml"); // names the source only; never read
  plan = (await provision(parseConfig(configYaml(upA.port!, upB.port!, closedPort), file))).plan;
  quietPlan = (
    await provision(
      parseConfig(configYaml(upA.port!, upB.port!, closedPort, 'settings: { serverHeader: "" }'), file),
    )
  ).plan;
});

afterAll(async () => {
  await Promise.all([upA?.stop(true), upB?.stop(true)]);
});

// The runtime's real client, one per service as the CLI builds it.
const clients = new UpstreamClients((tls) => createUpstreamClient(tls));

function appFor(name: string, p: Plan = plan) {
  const current = p.listeners.find((l) => l.name === name);
  if (!current) throw new Error(`no listener ${name}`);
  return createListenerHandler({ current, serverHeader: p.serverHeader }, clients);
}

async function call(
  url: string,
  init?: RequestInit,
  conn: ConnectionInfo = CONN,
  listener = "http",
  p: Plan = plan,
): Promise<Response> {
  return appFor(listener, p)(new Request(url, init), conn);
}

async function echo(
  url: string,
  init?: RequestInit,
  conn?: ConnectionInfo,
  listener?: string,
): Promise<Echo> {
  const res = await call(url, init, conn, listener);
  expect(res.status).toBe(200);
  return (await res.json()) as Echo;
}

async function bodyOf(url: string, listener?: string): Promise<[number, string]> {
  const res = await call(url, undefined, CONN, listener);
  return [res.status, await res.text()];
}

describe("route matching", () => {
  test.each([
    ["/first", "first-prefix"],
    ["/first/exact", "first-prefix"], // the earlier prefix route wins over the later exact one
    ["/firstly", "first-prefix"],
    ["/exact", "exact"],
    ["/api/v1", "regex"],
    ["/api/v42", "regex"],
    ["/api/v1/x", "api-prefix"], // regex is a full match
    ["/api/vx", "api-prefix"],
    ["/api", "api-prefix"],
    ["/multi-a", "multi"],
    ["/multi-b", "multi"],
  ])("%p -> %p", async (path, want) => {
    expect(await bodyOf(`http://routes.example${path}`)).toEqual([200, want]);
  });

  test("the query string is not part of the match", async () => {
    expect(await bodyOf("http://routes.example/exact?x=1")).toEqual([200, "exact"]);
    expect(await bodyOf("http://routes.example/api/v1?next=/api/v1/x")).toEqual([200, "regex"]);
    expect(await bodyOf("http://routes.example/api/v1/x?v=1")).toEqual([200, "api-prefix"]);
  });

  test("no route matches: 404 with an empty body", async () => {
    for (const path of ["/", "/exact/", "/Exact", "/multi-c", "/nothing?exact"]) {
      const res = await call(`http://routes.example${path}`);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe("");
      expect(res.headers.get("content-length")).toBe("0");
      expect(res.headers.get("server")).toBe("portico");
    }
  });

  test("unknown host: 404", async () => {
    const res = await call("http://unknown.example/exact");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("");
  });

  test("host matching ignores case, port and a trailing dot", async () => {
    expect(await bodyOf("http://ROUTES.Example:8080/exact")).toEqual([200, "exact"]);
    expect(await bodyOf("http://routes.example.:8080/exact")).toEqual([200, "exact"]);
  });

  test("wildcard virtual host", async () => {
    expect(await bodyOf("http://x.wild.example/")).toEqual([200, "wild"]);
    expect(await bodyOf("http://a.b.wild.example/")).toEqual([200, "wild"]);
    expect((await bodyOf("http://wild.example/"))[0]).toBe(404);
  });

  test("a listener only answers for its own hosts, even when routes exist for others", async () => {
    expect(await bodyOf("http://only.example/", "limited")).toEqual([200, "only"]);
    expect(await bodyOf("http://routes.example/exact", "limited")).toEqual([404, ""]);
  });
});

describe("direct responses", () => {
  test("status, body and content type", async () => {
    const res = await call("http://routes.example/teapot");
    expect(res.status).toBe(418);
    expect(await res.text()).toBe('{"tea":true}');
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("server")).toBe("portico");
  });

  test("default content type and empty body", async () => {
    const res = await call("http://routes.example/empty");
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });

  test("text body with the default content type", async () => {
    const res = await call("http://routes.example/exact");
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });

  test("HEAD: the same status and headers, no body", async () => {
    const res = await call("http://routes.example/teapot", { method: "HEAD" });
    expect(res.status).toBe(418);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("server")).toBe("portico");
    expect(res.body).toBeNull();
  });
});

describe("httpsRedirect", () => {
  test("301 to the HTTPS listener that serves the host, path and query kept", async () => {
    const res = await call(
      "http://webapp.istioinaction.io:8082/catalog/items?id=1&x=%20",
      undefined,
      CONN,
      "redirect",
    );
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("https://webapp.istioinaction.io:8443/catalog/items?id=1&x=%20");
    expect(res.headers.get("content-length")).toBe("0");
    expect(res.headers.get("server")).toBe("portico");
    expect(await res.text()).toBe("");
  });

  test("the root path", async () => {
    const res = await call("http://WebApp.IstioInAction.io", undefined, CONN, "redirect");
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("https://webapp.istioinaction.io:8443/");
  });

  test("no HTTPS listener serves the host: port 443, left out of the URL", async () => {
    const res = await call("http://elsewhere.example:8083/a?b", undefined, CONN, "redirect-default");
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("https://elsewhere.example/a?b");
  });

  test("a host the redirect listener does not accept: 404, no redirect", async () => {
    const res = await call("http://routes.example/exact", undefined, CONN, "redirect");
    expect(res.status).toBe(404);
    expect(res.headers.get("location")).toBeNull();
  });
});

describe("request headers sent upstream", () => {
  test("method, path and query, host, x-forwarded-*; a generated x-request-id", async () => {
    const e = await echo("http://proxy.example:8080/some/path?q=1&r=%2F");
    expect(e.who).toBe("a");
    expect(e.method).toBe("GET");
    expect(e.url).toBe("http://proxy.example:8080/some/path?q=1&r=%2F");
    expect(e.headers.host).toBe("proxy.example:8080");
    expect(e.headers["x-forwarded-for"]).toBe(CLIENT_IP);
    expect(e.headers["x-forwarded-proto"]).toBe("http");
    expect(e.headers["x-forwarded-host"]).toBe("proxy.example:8080");
    expect(e.headers["x-request-id"]).toMatch(UUID_V4);
  });

  test("each request gets its own x-request-id", async () => {
    const a = await echo("http://proxy.example/");
    const b = await echo("http://proxy.example/");
    expect(a.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
  });

  test("an incoming x-request-id is replaced (Envoy's edge default, preserve_external_request_id off)", async () => {
    const e = await echo("http://proxy.example/", { headers: { "x-request-id": "client-chosen-id" } });
    expect(e.headers["x-request-id"]).toMatch(UUID_V4);
  });

  test("x-forwarded-for is appended to the incoming value", async () => {
    const e = await echo("http://proxy.example/", {
      headers: { "x-forwarded-for": "203.0.113.7, 198.51.100.1" },
    });
    expect(e.headers["x-forwarded-for"]).toBe(`203.0.113.7, 198.51.100.1, ${CLIENT_IP}`);
  });

  test("client-sent x-forwarded-proto and x-forwarded-host are overwritten", async () => {
    const e = await echo("http://proxy.example/", {
      headers: { "x-forwarded-proto": "https", "x-forwarded-host": "evil.example" },
    });
    expect(e.headers["x-forwarded-proto"]).toBe("http");
    expect(e.headers["x-forwarded-host"]).toBe("proxy.example");
  });

  test("ordinary headers pass unchanged", async () => {
    const e = await echo("http://proxy.example/", {
      headers: { "x-custom": "v1", authorization: "Bearer t", cookie: "a=1; b=2", accept: "text/html" },
    });
    expect(e.headers["x-custom"]).toBe("v1");
    expect(e.headers.authorization).toBe("Bearer t");
    expect(e.headers.cookie).toBe("a=1; b=2");
    expect(e.headers.accept).toBe("text/html");
  });

  test("hop-by-hop headers, and those named in Connection, are removed", async () => {
    const e = await echo("http://proxy.example/", {
      headers: {
        connection: "X-Secret, close",
        "x-secret": "1",
        "keep-alive": "timeout=5",
        te: "gzip",
        upgrade: "websocket",
        "proxy-connection": "keep-alive",
        "proxy-authorization": "Basic Zm9vOmJhcg==",
        "transfer-encoding": "chunked",
        trailer: "x-sum",
        "http2-settings": "AAMAAABkAAQAAP__",
        "x-kept": "yes",
      },
    });
    for (const name of [
      "x-secret",
      "keep-alive",
      "te",
      "upgrade",
      "proxy-connection",
      "proxy-authorization",
      "transfer-encoding",
      "trailer",
      "http2-settings",
    ]) {
      expect({ name, present: name in e.headers }).toEqual({ name, present: false });
    }
    // Bun's fetch adds its own "connection: keep-alive"; the client's value must not travel.
    expect(e.headers.connection ?? "(none)").toBeOneOf(["(none)", "keep-alive"]);
    expect(e.headers["x-kept"]).toBe("yes");
  });

  test("te: trailers is the one TE value that is forwarded", async () => {
    const e = await echo("http://proxy.example/", { headers: { te: "Trailers " } });
    expect(e.headers.te).toBe("trailers");
  });

  test("an incoming x-forwarded-client-cert is stripped on a plain listener", async () => {
    const e = await echo("http://proxy.example/", {
      headers: { "x-forwarded-client-cert": 'Hash=forged;Subject="CN=admin"' },
    });
    expect(e.headers["x-forwarded-client-cert"]).toBeUndefined();
  });

  test("expect: 100-continue is answered by the proxy, not forwarded", async () => {
    const e = await echo("http://proxy.example/upload", {
      method: "POST",
      body: "x",
      headers: { expect: "100-continue" },
    });
    expect(e.headers.expect).toBeUndefined();
    expect(e.body).toBe("x");
  });

  test("a request body is forwarded", async () => {
    const e = await echo("http://proxy.example/upload", {
      method: "POST",
      body: "hello body",
      headers: { "content-type": "text/plain" },
    });
    expect(e.method).toBe("POST");
    expect(e.body).toBe("hello body");
    expect(e.headers["content-type"]).toBe("text/plain");
  });
});

describe("HTTPS listeners", () => {
  const tls = (serverIndex: number, peer?: PeerCertificate): ConnectionInfo => ({
    remoteAddress: CLIENT_IP,
    tls: { serverName: "webapp.istioinaction.io", serverIndex, alpn: "h2", peer },
  });

  test("x-forwarded-proto is https", async () => {
    const e = await echo("https://webapp.istioinaction.io/x", undefined, tls(0), "https");
    expect(e.headers["x-forwarded-proto"]).toBe("https");
    expect(e.headers["x-forwarded-host"]).toBe("webapp.istioinaction.io");
  });

  test("MUTUAL: the verified client certificate replaces a client-sent x-forwarded-client-cert", async () => {
    const pem = readFileSync(book.webappClientCert);
    const der = new Uint8Array(new NodeX509(pem).raw);
    const peer = { der, sha256: createHash("sha256").update(der).digest("hex") };
    const e = await echo(
      "https://webapp.istioinaction.io/x",
      { headers: { "x-forwarded-client-cert": "Hash=forged" } },
      tls(0, peer),
      "https-mtls",
    );
    expect(e.headers["x-forwarded-client-cert"]).toBe(
      `Hash=${peer.sha256};Subject="CN=webapp.istioinaction.io,O=Dis,L=Springfield,ST=Denial,C=US";URI=`,
    );
  });

  test("MUTUAL port: a Host that selects another server than the SNI did gets 421", async () => {
    // Handshake went to server 1 (catalog, SIMPLE); Host asks for the MUTUAL webapp server.
    const res = await call("https://webapp.istioinaction.io/x", undefined, tls(1), "https-mtls");
    expect(res.status).toBe(421);
    expect(await res.text()).toBe("");
    // Host and SNI agree: served.
    const ok = await call("https://catalog.istioinaction.io/x", undefined, tls(1), "https-mtls");
    expect(ok.status).toBe(200);
  });
});

describe("response from upstream", () => {
  test("status, body; hop-by-hop removed; set-cookie kept apart; server replaced", async () => {
    const res = await call("http://proxy.example/headers-out");
    expect(res.status).toBe(201);
    expect(await res.text()).toBe("out");
    for (const name of [
      "connection",
      "x-private",
      "keep-alive",
      "proxy-authenticate",
      "upgrade",
      "trailer",
      "transfer-encoding",
    ]) {
      expect({ name, value: res.headers.get(name) }).toEqual({ name, value: null });
    }
    expect(res.headers.getSetCookie()).toEqual([
      "a=1; Path=/; HttpOnly",
      "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
    ]);
    expect(res.headers.get("x-upstream")).toBe("yes");
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(res.headers.get("server")).toBe("portico");
    expect(res.headers.get("x-envoy-upstream-service-time")).toMatch(/^\d+$/);
  });

  test("x-envoy-upstream-service-time is a whole number of milliseconds", async () => {
    const res = await call("http://proxy.example/");
    const t = Number(res.headers.get("x-envoy-upstream-service-time"));
    expect(Number.isInteger(t)).toBe(true);
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThan(5_000);
    expect(res.headers.get("server")).toBe("portico");
  });

  test('serverHeader "" removes the server header everywhere', async () => {
    const proxied = await call("http://proxy.example/headers-out", undefined, CONN, "http", quietPlan);
    expect(proxied.status).toBe(201);
    expect(proxied.headers.get("server")).toBeNull();
    const direct = await call("http://routes.example/exact", undefined, CONN, "http", quietPlan);
    expect(direct.headers.get("server")).toBeNull();
    const notFound = await call("http://nope.example/", undefined, CONN, "http", quietPlan);
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get("server")).toBeNull();
    const down = await call("http://proxy.example/down", undefined, CONN, "http", quietPlan);
    expect(down.status).toBe(503);
    expect(down.headers.get("server")).toBeNull();
  });
});

describe("weighted destinations", () => {
  test("weights 1 and 0: always the first", async () => {
    for (let i = 0; i < 100; i++) expect((await echo("http://proxy.example/weighted-10")).who).toBe("a");
  });

  test("50/50 over 400 requests: both seen, roughly evenly", async () => {
    const seen = { a: 0, b: 0 } as Record<string, number>;
    for (let i = 0; i < 400; i++) seen[(await echo("http://proxy.example/weighted-50")).who]!++;
    expect(seen.a! + seen.b!).toBe(400);
    // Binomial(400, 0.5): sd 10, so 120..280 fails with probability ~1e-15.
    expect(seen.a!).toBeGreaterThan(120);
    expect(seen.b!).toBeGreaterThan(120);
  }, 20_000);
});

describe("upstream failures", () => {
  test("503 when the upstream port is closed", async () => {
    const res = await call("http://proxy.example/down");
    expect(res.status).toBe(503);
    expect(await res.text()).toBe(
      "upstream connect error or disconnect/reset before headers. reset reason: connection failure, connection refused",
    );
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(res.headers.get("server")).toBe("portico");
  });

  test("504 when the upstream is slower than the route timeout (100ms)", async () => {
    const started = performance.now();
    const res = await call("http://proxy.example/slow");
    const elapsed = performance.now() - started;
    expect(res.status).toBe(504);
    expect(await res.text()).toBe("upstream request timeout");
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(900);
  });

  test("the timeout is per route: the default route waits for the same slow upstream", async () => {
    // /other/slow sleeps 1 s upstream too, but its route has the default 15 s timeout.
    const res = await call("http://proxy.example/other/slow");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("late");
  });
});

describe("splitUrl", () => {
  test.each([
    ["http://a.example/p?q=1", { scheme: "http", authority: "a.example", pathAndQuery: "/p?q=1" }],
    ["https://a.example:8443", { scheme: "https", authority: "a.example:8443", pathAndQuery: "/" }],
    ["http://[::1]:8080/x", { scheme: "http", authority: "[::1]:8080", pathAndQuery: "/x" }],
  ])("%p", (url, want) => {
    expect(splitUrl(url)).toEqual(want);
  });
});
