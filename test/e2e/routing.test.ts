// The VirtualService routing language over real sockets: Portico as a child process (Bun, Deno or
// Node: PORTICO_RUNTIME), curl as the client, the demo upstreams plus a small recording upstream
// that fails on request. Semantics are pinned in test/unit/http-route.test.ts; this checks that
// they survive each runtime's listener and upstream client, over HTTP/1.1 and h2.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { WEBAPP_BODY, startDemoUpstreams, type DemoUpstreams } from "../../scripts/demo-upstreams.ts";
import { HOST_WEBAPP, book } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { startPortico, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { EchoUpstream } from "../helpers/upstreams.ts";

let upstreams: DemoUpstreams;
let recorder: EchoUpstream;
let p: PorticoProcess;
let http: number, https: number;
const HOST = "routing.example";

beforeAll(async () => {
  upstreams = await startDemoUpstreams();
  recorder = await new EchoUpstream().start();
  [http, https] = await freePorts(2);
  const yaml = String.raw`
listeners:
  - { name: http, address: 127.0.0.1, port: ${http}, protocol: HTTP }
  - name: https
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { credential: webapp }
credentials:
  webapp: { cert: ${book.webappCert}, key: ${book.webappKey} }
services:
  webapp: http://127.0.0.1:${upstreams.webappPort}
  recorder: http://127.0.0.1:${recorder.port}
routes:
  - hosts: [${HOST}, ${HOST_WEBAPP}]
    http:
      - name: moved
        match: [{ uri: { prefix: /old/ } }]
        redirect: { uri: /new, authority: new.example, scheme: https, redirectCode: 308 }
      - name: versioned
        match: [{ uri: { prefix: /v1/ } }]
        rewrite: { uri: /, authority: webapp.internal }
        route: [{ destination: { host: webapp.default.svc.cluster.local, port: { number: 80 } } }]
      - name: regex-rewrite
        match: [{ uri: { regex: '/api/[0-9]+/.*' } }]
        rewrite: { uriRegexRewrite: { match: '^/api/([0-9]+)/(.*)$', rewrite: '/\2?version=\1' } }
        route: [{ destination: webapp }]
      - name: header-ops
        match: [{ uri: { exact: /headers }, headers: { x-ops: {} } }]
        headers:
          request: { set: { x-env: production }, remove: [x-secret] }
          response: { set: { x-frame-options: DENY }, add: { x-added: "1" }, remove: [x-upstream] }
        route: [{ destination: webapp }]
      - name: header-ops-echo
        match: [{ uri: { exact: /echo }, headers: { x-ops: {} } }]
        headers:
          request: { set: { x-env: production }, add: { x-trace: portico }, remove: [x-secret] }
        route: [{ destination: webapp }]
      - name: broken
        match: [{ uri: { prefix: /broken } }]
        fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
        route: [{ destination: recorder }]
      - name: first
        match: [{ uri: { prefix: /order } }]
        route: [{ destination: recorder }]
      - name: second-never-reached
        match: [{ uri: { prefix: /order/late } }]
        directResponse: { status: 200, body: "the later route" }
      - name: flaky
        match: [{ uri: { exact: /flaky } }]
        retries: { attempts: 3, perTryTimeout: 2s, retryOn: 5xx }
        route: [{ destination: recorder }]
      - name: shadowed
        match: [{ uri: { prefix: /shadowed } }]
        rewrite: { uri: /echo }
        mirror: { host: recorder }
        mirrorPercentage: { value: 100 }
        route: [{ destination: webapp }]
      - name: cors
        match: [{ uri: { prefix: /api/catalog } }]
        corsPolicy:
          allowOrigins: [{ exact: https://shop.example }, { regex: 'https://.*\.trusted\.example' }]
          allowMethods: [GET, POST]
          allowHeaders: [content-type, x-token]
          exposeHeaders: [x-envoy-upstream-service-time]
          maxAge: 1h
          allowCredentials: true
        route: [{ destination: webapp }]
      - route: [{ destination: webapp }]
`;
  p = await startPortico(writeConfig(yaml));
});

afterAll(async () => {
  await p?.stop();
  await recorder?.stop();
  await upstreams?.close();
});

const plain = (path: string) => [`http://127.0.0.1:${http}${path}`, "-H", `Host: ${HOST}`];
const tls = (path: string) => [
  `https://${HOST_WEBAPP}:${https}${path}`,
  "--cacert",
  book.webappCaChain,
  "--resolve",
  `${HOST_WEBAPP}:${https}:127.0.0.1`,
  "--http2",
];

describe("redirect", () => {
  test("308 to the new scheme, authority and path; the query is kept", async () => {
    const r = await curl(plain("/old/page?id=7"));
    expect(r.status).toBe(308);
    expect(r.headers.get("location")).toBe("https://new.example/new?id=7");
    expect(r.body).toBe("");
  });
});

describe("rewrite", () => {
  test("prefix → / and a new authority, over HTTP/1.1 and h2", async () => {
    for (const args of [plain("/v1/echo?x=1"), tls("/v1/echo?x=1")]) {
      const r = await curl(args);
      expect(r.status).toBe(200);
      const e = JSON.parse(r.body);
      expect(e.url).toBe("/echo?x=1");
      expect(e.headers.host).toBe("webapp.internal");
    }
  });

  test("uriRegexRewrite with capture groups", async () => {
    const r = await curl(plain("/api/2/echo"));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).url).toBe("/echo?version=2");
  });
});

describe("header operations", () => {
  test("request: set, add and remove reach the upstream", async () => {
    const r = await curl([...plain("/echo"), "-H", "x-ops: 1", "-H", "x-secret: s3cret", "-H", "x-env: dev"]);
    const h = JSON.parse(r.body).headers;
    expect(h["x-env"]).toBe("production");
    expect(h["x-trace"]).toBe("portico");
    expect(h["x-secret"]).toBeUndefined();
  });

  test("response: set, add and remove, over HTTP/1.1 and h2", async () => {
    for (const args of [plain("/headers"), tls("/headers")]) {
      const r = await curl([...args, "-H", "x-ops: 1"]);
      expect(r.status).toBe(200);
      expect(r.headers.get("x-frame-options")).toBe("DENY");
      expect(r.headers.get("x-added")).toBe("1");
      expect(r.headers.get("x-upstream")).toBeUndefined();
      expect(r.headers.get("set-cookie")).toBe("a=1; Path=/, b=2; Path=/");
    }
  });
});

describe("route order", () => {
  test("the first matching route wins, though a later one matches more precisely", async () => {
    const marker = crypto.randomUUID();
    const r = await curl(plain(`/order/late?m=${marker}`));
    expect(r.status).toBe(200);
    expect(r.body).not.toBe("the later route");
    expect(JSON.parse(r.body).url).toBe(`/order/late?m=${marker}`);
    expect(recorder.seen.some((s) => s.url.includes(marker))).toBe(true);
  });
});

describe("fault injection", () => {
  test("abort 100%: 503 from Portico, the upstream never asked", async () => {
    const marker = crypto.randomUUID();
    const r = await curl(plain(`/broken/thing?m=${marker}`));
    expect(r.status).toBe(503);
    expect(r.body).toBe("fault filter abort");
    expect(r.headers.get("server")).toBe("portico");
    // The route's destination records every request; a request sent anyway would show up here.
    expect(await recorder.waitFor((s) => s.url.includes(marker), 300)).toBeUndefined();
  });
});

describe("retries", () => {
  test("an upstream that fails the first two tries: 200 on the third", async () => {
    const key = crypto.randomUUID();
    const r = await curl(plain(`/flaky?key=${key}&fail=2`));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).tries).toBe(3);
  });

  test("a POST body is sent again on each try, over HTTP/1.1 and h2", async () => {
    for (const args of [plain, tls]) {
      const key = crypto.randomUUID();
      const r = await curl([...args(`/flaky?key=${key}&fail=1`), "--data-binary", "order=42"]);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ tries: 2, body: "order=42" });
      const sent = recorder.seen.filter((s) => s.url.includes(key));
      expect(sent.map((s) => s.body)).toEqual(["order=42", "order=42"]);
    }
  });

  test("attempts used up: the last upstream answer is returned", async () => {
    const key = crypto.randomUUID();
    const r = await curl(plain(`/flaky?key=${key}&fail=9`));
    expect(r.status).toBe(503);
    expect(r.body).toBe("failure 4\n");
    expect(recorder.tries.get(key)).toBe(4);
  });
});

describe("mirror", () => {
  test("the copy reaches the second upstream with a -shadow host; the client gets webapp's answer", async () => {
    const marker = crypto.randomUUID();
    const r = await curl([...plain(`/shadowed?m=${marker}`), "--data-binary", "mirrored body"]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).url).toBe(`/echo?m=${marker}`);
    const copy = await recorder.waitFor((s) => s.url.includes(marker));
    expect(copy).toBeDefined();
    expect(copy!.url).toBe(`/echo?m=${marker}`);
    expect(copy!.headers.host).toBe(`${HOST}-shadow`);
    expect(copy!.method).toBe("POST");
    expect(copy!.body).toBe("mirrored body");
  });
});

describe("CORS", () => {
  const preflight = (origin: string) => [
    "-X",
    "OPTIONS",
    "-H",
    `Origin: ${origin}`,
    "-H",
    "Access-Control-Request-Method: POST",
    "-H",
    "Access-Control-Request-Headers: x-token",
  ];

  test("a preflight from an allowed origin is answered by Portico, over HTTP/1.1 and h2", async () => {
    for (const args of [plain("/api/catalog"), tls("/api/catalog")]) {
      const r = await curl([...args, ...preflight("https://app.trusted.example")]);
      expect(r.status).toBe(200);
      expect(r.body).toBe("");
      expect(r.headers.get("access-control-allow-origin")).toBe("https://app.trusted.example");
      expect(r.headers.get("access-control-allow-methods")).toBe("GET,POST");
      expect(r.headers.get("access-control-allow-headers")).toBe("content-type,x-token");
      expect(r.headers.get("access-control-max-age")).toBe("3600");
      expect(r.headers.get("access-control-allow-credentials")).toBe("true");
    }
  });

  test("a preflight from another origin goes to the upstream, and gets no CORS headers", async () => {
    const r = await curl([...plain("/api/catalog"), ...preflight("https://evil.example")]);
    expect(r.body).toBe(WEBAPP_BODY); // the demo webapp answers OPTIONS /api/catalog like GET
    expect(r.headers.get("access-control-allow-origin")).toBeUndefined();
  });

  test("the actual request from an allowed origin gets allow-origin and expose-headers", async () => {
    const r = await curl([...plain("/api/catalog"), "-H", "Origin: https://shop.example"]);
    expect(r.status).toBe(200);
    expect(r.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(r.headers.get("access-control-expose-headers")).toBe("x-envoy-upstream-service-time");
  });
});
