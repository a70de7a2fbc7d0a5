// Upstream pools end to end (issue 10): Portico as a child process (PORTICO_RUNTIME=bun|deno|node)
// in front of several real upstreams on loopback, each answering with its name. Load balancing
// per policy, consistent-hash stickiness, outlier ejection and return, active health checks,
// circuit-breaker limits, DNS resolution, the Istio canary, and GET /upstreams. Counts are
// bounded and tolerances wide: the machine is small and shared.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lookup } from "node:dns/promises";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { TcpEchoServer } from "../helpers/upstreams.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import { type PorticoProcess, startPortico, startPorticoWith, writeConfig } from "../helpers/portico.ts";
import { yaml } from "../helpers/yaml.ts";

/** A named upstream: `/` answers its name; `/slow` after 400 ms; `/health` as `health` says. */
class Named {
  server!: ReturnType<typeof Bun.serve>;
  hits = 0;
  /** "ok", "503" (every request answered 503), or "stall" (/health never answers). */
  mode: "ok" | "503" | "stall" = "ok";
  constructor(
    readonly name: string,
    readonly hostname = "127.0.0.1",
    public port = 0,
  ) {}
  start(): this {
    this.server = Bun.serve({
      hostname: this.hostname,
      port: this.port,
      fetch: async (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/health") {
          if (this.mode === "stall") await sleep(5_000);
          return new Response("ok");
        }
        this.hits++;
        if (this.mode === "503") return new Response("down", { status: 503 });
        if (path === "/slow") await sleep(400);
        return new Response(this.name, { headers: { "x-host-seen": req.headers.get("host") ?? "" } });
      },
    });
    this.port = this.server.port!;
    return this;
  }
  stop(): void {
    this.server.stop(true);
  }
}

const named = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => new Named(`${prefix}${i}`).start());
const all: Named[] = [];
const ep = (u: Named, extra = "") => `{ address: ${u.hostname}, port: ${u.port}${extra} }`;

let p: PorticoProcess;
let configText: string, configFile: string;
let http: number, admin: number, tcp: number, deadPort: number;
const echoes = [new TcpEchoServer(), new TcpEchoServer()];

const rr = named("rr", 3);
const weighted = named("w", 2);
const random = named("rnd", 3);
const least = named("lr", 3);
const byHeader = named("hh", 4);
const byCookie = named("hc", 4);
const outlier = named("od", 2);
const checked = named("hc-", 2);
const limited = named("lim", 1);
const movesOn = named("mo", 2);
const dnsV4 = new Named("dns4", "127.0.0.1").start();
const dnsV6 = new Named("dns6", "::1", dnsV4.port).start();
all.push(
  ...rr,
  ...weighted,
  ...random,
  ...least,
  ...byHeader,
  ...byCookie,
  ...outlier,
  ...checked,
  ...limited,
);
all.push(dnsV4, dnsV6);

beforeAll(async () => {
  [http, admin, tcp, deadPort] = await freePorts(4);
  await echoes[0]!.start("a:");
  await echoes[1]!.start("b:");
  const route = (host: string, service: string, extra = "") =>
    `  - hosts: [${host}]\n    http: [{ route: [{ destination: ${service} }]${extra} }]`;
  const config = `
listeners:
  - { name: http, address: 127.0.0.1, port: ${http}, protocol: HTTP }
  - { name: tcp, address: 127.0.0.1, port: ${tcp}, protocol: TCP }
settings: { admin: "127.0.0.1:${admin}" }
services:
  rr: { endpoints: [${rr.map((u) => ep(u)).join(", ")}], loadBalancer: { simple: ROUND_ROBIN } }
  weighted:
    endpoints: [${ep(weighted[0]!, ", weight: 3")}, ${ep(weighted[1]!)}]
    loadBalancer: { simple: ROUND_ROBIN }
  random: { endpoints: [${random.map((u) => ep(u)).join(", ")}], loadBalancer: { simple: RANDOM } }
  least: { endpoints: [${least.map((u) => ep(u)).join(", ")}] }
  by-header:
    endpoints: [${byHeader.map((u) => ep(u)).join(", ")}]
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
  by-cookie:
    endpoints: [${byCookie.map((u) => ep(u)).join(", ")}]
    loadBalancer: { consistentHash: { httpCookie: { name: sticky, ttl: 60s } } }
  outlier:
    endpoints: [${outlier.map((u) => ep(u)).join(", ")}]
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 100ms
      baseEjectionTime: 1500ms
      maxEjectionPercent: 100
  checked:
    endpoints: [${checked.map((u) => ep(u)).join(", ")}]
    loadBalancer: { simple: ROUND_ROBIN }
    healthCheck: { http: { path: /health }, interval: 150ms, timeout: 150ms, unhealthyThreshold: 2 }
  limited:
    endpoints: [${ep(limited[0]!)}]
    connectionPool: { tcp: { maxConnections: 2 }, http: { http1MaxPendingRequests: 1 } }
  tcp-pool:
    endpoints:
      - { address: 127.0.0.1, port: ${echoes[0]!.port} }
      - { address: 127.0.0.1, port: ${echoes[1]!.port} }
      - { address: 127.0.0.1, port: ${deadPort} }
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100, baseEjectionTime: 60s }
  moves-on:
    endpoints: [${movesOn.map((u) => ep(u)).join(", ")}]
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
  dns:
    resolution: DNS
    endpoints: [{ address: localhost, port: ${dnsV4.port} }]
    loadBalancer: { simple: ROUND_ROBIN }
routes:
  - { hosts: ["*"], tcp: [{ route: [{ destination: tcp-pool }] }] }
${route("rr.test", "rr")}
${route("weighted.test", "weighted")}
${route("random.test", "random")}
${route("least.test", "least")}
${route("header.test", "by-header")}
${route("cookie.test", "by-cookie")}
${route("outlier.test", "outlier", ", retries: { attempts: 3, retryOn: '5xx,connect-failure' }")}
${route("checked.test", "checked")}
${route("limited.test", "limited")}
${route("dns.test", "dns")}
${route("moves-on.test", "moves-on", ", retries: { attempts: 1, retryOn: 'connect-failure,reset' }")}
`;
  configText = config;
  configFile = writeConfig(config);
  p = await startPortico(configFile);
});

afterAll(async () => {
  await p?.stop();
  for (const u of all) u.stop();
  for (const e of echoes) await e.stop();
});

async function get(host: string, path = "/", headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${http}${path}`, { headers: { host, ...headers } });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Who answered `n` sequential requests, counted by name. */
async function tally(host: string, n: number, headers: Record<string, string> = {}) {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(host, "/", headers);
    expect(r.status).toBe(200);
    counts[r.body] = (counts[r.body] ?? 0) + 1;
  }
  return counts;
}

async function upstreams(): Promise<UpstreamView[]> {
  const res = await fetch(`http://127.0.0.1:${admin}/upstreams`);
  return ((await res.json()) as { upstreams: UpstreamView[] }).upstreams;
}
interface UpstreamView {
  name: string;
  service: string;
  subset?: string;
  direct: boolean;
  loadBalancer: string;
  circuit: { connections: number; pending: number; requests: number; retries: number };
  dns?: unknown;
  endpoints: {
    address: string;
    port: number;
    hostname?: string;
    health: string;
    ejections: number;
    activeCheck: string;
    activeRequests: number;
  }[];
}
const view = async (name: string) => (await upstreams()).find((u) => u.name === name)!;

async function waitFor(what: string, ok: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("load balancing", () => {
  test("ROUND_ROBIN: 30 requests over 3 endpoints, 10 each; the client's Host reaches them", async () => {
    expect(await tally("rr.test", 30)).toEqual({ rr0: 10, rr1: 10, rr2: 10 });
    expect((await get("rr.test")).headers.get("x-host-seen")).toBe("rr.test");
  });

  test("weights: 3 to 1 over 40 requests", async () => {
    const c = await tally("weighted.test", 40);
    expect(c.w0).toBeGreaterThanOrEqual(28);
    expect(c.w0).toBeLessThanOrEqual(32);
    expect(c.w0! + c.w1!).toBe(40);
  });

  test("RANDOM and LEAST_REQUEST (the default): every endpoint gets a fair share of 90", async () => {
    for (const host of ["random.test", "least.test"]) {
      const c = await tally(host, 90);
      expect(Object.keys(c)).toHaveLength(3);
      for (const n of Object.values(c)) expect(n).toBeGreaterThanOrEqual(12);
    }
  });
});

describe("consistent hash", () => {
  test("by header: each user sticks to one endpoint; users spread over several", async () => {
    const used = new Set<string>();
    for (let u = 0; u < 12; u++) {
      const c = await tally("header.test", 4, { "x-user": `user-${u}` });
      expect(Object.keys(c)).toHaveLength(1);
      used.add(Object.keys(c)[0]!);
    }
    expect(used.size).toBeGreaterThanOrEqual(2);
  });

  test("by cookie: set when missing (with its ttl), then every request with it sticks", async () => {
    const first = await get("cookie.test");
    const cookie = first.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^sticky=[0-9a-f]+; Max-Age=60; HttpOnly$/);
    const value = cookie.split(";")[0]!;
    const c = await tally("cookie.test", 10, { cookie: value });
    expect(Object.keys(c)).toHaveLength(1);
    // With the cookie sent, none is set again.
    expect((await get("cookie.test", "/", { cookie: value })).headers.get("set-cookie")).toBeNull();
  });
});

describe("outlier detection", () => {
  test("a killed endpoint is ejected after its errors; with retries no request fails; it returns", async () => {
    const [good, bad] = outlier as [Named, Named];
    const port = bad.port;
    bad.stop(); // connection refused: a connect failure, counted as a 5xx
    for (let i = 0; i < 10; i++) {
      const r = await get("outlier.test");
      expect(r.status).toBe(200);
      expect(r.body).toBe(good.name);
    }
    const ejected = (await view("outlier")).endpoints.find((e) => e.port === port)!;
    expect(ejected.health).toBe("ejected");
    expect(ejected.ejections).toBe(1);
    // Ejected: the next requests go straight to the good endpoint (no failed try first).
    const before = good.hits;
    for (let i = 0; i < 10; i++) expect((await get("outlier.test")).status).toBe(200);
    expect(good.hits - before).toBe(10);

    // It recovers; after the ejection time the sweep returns it and it takes traffic again.
    const back = new Named(bad.name, "127.0.0.1", port).start();
    all.push(back);
    await waitFor("the endpoint's return", async () =>
      (await view("outlier")).endpoints.every((e) => e.health === "healthy"),
    );
    const c = await tally("outlier.test", 10);
    expect(c[bad.name]).toBeGreaterThanOrEqual(4);
  });
});

describe("retries move on", () => {
  test("a dead endpoint's failure is retried on the other one, even for a key that hashes to the dead one", async () => {
    const [dead, alive] = movesOn as [Named, Named];
    // Which users hash to which endpoint, while both live.
    const home = new Map<string, string>();
    for (let u = 0; u < 16; u++)
      home.set(`u${u}`, (await get("moves-on.test", "/", { "x-user": `u${u}` })).body);
    const stuck = [...home].filter(([, who]) => who === dead.name).map(([user]) => user);
    expect(stuck.length).toBeGreaterThan(0);
    // Stopped: new connections are refused (connect-failure); a kept-alive one the client had
    // open may instead fail as a reset, depending on the runtime's client and timing.
    dead.stop();
    // No outlier detection here: only retryIgnorePreviousHosts (default true) moves the retry on.
    for (const user of stuck) {
      const r = await get("moves-on.test", "/", { "x-user": user });
      expect(r.status).toBe(200);
      expect(r.body).toBe(alive.name);
    }
  });
});

describe("TCP routes", () => {
  /** One connection through the TCP listener: what the backend answered, or "" when it closed. */
  const roundTrip = () =>
    new Promise<string>((resolve) => {
      const sock = connect({ host: "127.0.0.1", port: tcp, allowHalfOpen: true });
      let got = "";
      sock.on("data", (d) => (got += d));
      sock.on("error", () => {});
      sock.once("close", () => resolve(got));
      sock.once("connect", () => sock.end("x"));
    });

  test("connections spread over the endpoints; a refused endpoint is ejected after its failure", async () => {
    const answers: string[] = [];
    for (let i = 0; i < 12; i++) answers.push(await roundTrip());
    const a = answers.filter((x) => x === "xa:1 bytes, bye").length;
    const b = answers.filter((x) => x === "xb:1 bytes, bye").length;
    expect(a + b).toBeGreaterThanOrEqual(11);
    expect(Math.min(a, b)).toBeGreaterThanOrEqual(5);
    const dead = (await view("tcp-pool")).endpoints.find((e) => e.port === deadPort)!;
    expect(dead).toMatchObject({ health: "ejected", ejections: 1 });
  });
});

describe("active health checks", () => {
  test("an endpoint whose /health stalls receives no traffic, and comes back when it answers", async () => {
    const [ok, stalled] = checked as [Named, Named];
    await waitFor("both checks passing", async () =>
      (await view("checked")).endpoints.every((e) => e.activeCheck === "passing"),
    );
    stalled.mode = "stall";
    await waitFor("the stalled endpoint out", async () =>
      (await view("checked")).endpoints.some((e) => e.port === stalled.port && e.health === "failing-check"),
    );
    expect(await tally("checked.test", 10)).toEqual({ [ok.name]: 10 });
    stalled.mode = "ok";
    await waitFor("its return", async () =>
      (await view("checked")).endpoints.every((e) => e.health === "healthy"),
    );
    expect(Object.keys(await tally("checked.test", 10)).sort()).toEqual([ok.name, stalled.name]);
  });
});

describe("circuit breaking", () => {
  const burst = (n: number) => Promise.all(Array.from({ length: n }, () => get("limited.test", "/slow")));

  test("maxConnections 2 + 1 pending: 3 concurrent requests all pass", async () => {
    const rs = await burst(3);
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  test("the 4th concurrent request is refused at once with Envoy's overflow 503", async () => {
    const rs = await burst(4);
    const refused = rs.filter((r) => r.status === 503);
    expect(rs.filter((r) => r.status === 200)).toHaveLength(3);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.headers.get("x-envoy-overloaded")).toBe("true");
    expect(refused[0]!.body).toBe(
      "upstream connect error or disconnect/reset before headers. reset reason: overflow",
    );
  });
});

describe("circuit slots", () => {
  test("every slot is given back: after HEAD, GET and refused requests the counts are 0", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${http}/`, {
        method: "HEAD",
        headers: { host: "limited.test" },
      });
      expect(res.status).toBe(200);
    }
    expect((await get("limited.test")).status).toBe(200);
    await waitFor("the slots back", async () => {
      const c = (await view("limited")).circuit;
      return c.connections + c.pending + c.requests + c.retries === 0;
    });
  });
});

describe("DNS resolution", () => {
  test("`localhost` becomes one endpoint per address the system resolver gives, each serving", async () => {
    // The same resolver Portico uses (getaddrinfo: /etc/hosts): 127.0.0.1, and ::1 where listed.
    const answer = (await lookup("localhost", { all: true })).map((a) => a.address).sort();
    await waitFor("the lookup", async () => (await view("dns")).endpoints.length === answer.length);
    const v = await view("dns");
    expect(v.endpoints.map((e) => e.address).sort()).toEqual(answer);
    expect(v.endpoints.every((e) => e.hostname === "localhost")).toBe(true);
    const c = await tally("dns.test", 10);
    const expected = Object.fromEntries(
      answer.map((a) => [a === "::1" ? "dns6" : "dns4", 10 / answer.length] as const),
    );
    expect(c).toEqual(expected);
  });
});

describe("GET /upstreams", () => {
  test("every service, its endpoints with health, ejections, active requests and the circuit", async () => {
    const list = await upstreams();
    expect(list.map((u) => u.name)).toEqual([
      "by-cookie",
      "by-header",
      "checked",
      "dns",
      "least",
      "limited",
      "moves-on",
      "outlier",
      "random",
      "rr",
      "tcp-pool",
      "weighted",
    ]);
    const rrView = list.find((u) => u.name === "rr")!;
    expect(rrView).toMatchObject({ service: "rr", direct: false, loadBalancer: "ROUND_ROBIN" });
    expect(rrView.circuit).toEqual({ connections: 0, pending: 0, requests: 0, retries: 0 });
    expect(rrView.endpoints[0]).toMatchObject({
      address: "127.0.0.1",
      port: rr[0]!.port,
      health: "healthy",
      ejected: false,
      ejections: 0,
      activeCheck: "off",
      activeRequests: 0,
    });
    expect(list.find((u) => u.name === "dns")!.dns).toBeDefined();
  });
});

describe("reload", () => {
  test("SIGHUP with fewer endpoints: the pool follows, the endpoint that stays keeps its state", async () => {
    const rrCounts = async () => (await view("rr")).endpoints.map((e) => e.port);
    expect(await rrCounts()).toEqual(rr.map((u) => u.port));
    const without = configText.replace(`, ${ep(rr[2]!)}`, "");
    expect(without).not.toBe(configText);
    writeFileSync(configFile, without);
    p.proc.kill("SIGHUP");
    await waitFor("the reload", async () => (await rrCounts()).length === 2);
    expect(await tally("rr.test", 10)).toEqual({ rr0: 5, rr1: 5 });
    // The outlier pool, unchanged by the reload, still counts the earlier ejection.
    expect((await view("outlier")).endpoints.map((e) => e.ejections).sort()).toEqual([0, 1]);
  });
});

describe("the Istio canary, documents unchanged", () => {
  let canary: PorticoProcess | undefined;
  let v1: Named, v2: Named;
  let port: number;
  afterAll(async () => {
    await canary?.stop();
  });

  test("ServiceEntry + DestinationRule subsets + VirtualService 90/10 → about 90/10", async () => {
    [port] = await freePorts(1);
    v1 = new Named("v1", "127.0.0.2").start();
    v2 = new Named("v2", "127.0.0.3").start();
    all.push(v1, v2);
    const docs = yaml`
      apiVersion: networking.istio.io/v1
      kind: Gateway
      metadata: { name: gw }
      spec:
        servers:
        - port: { number: 80, name: http, protocol: HTTP }
          hosts: ["*"]
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: catalog }
      spec:
        hosts: [catalog.istioinaction.svc.cluster.local]
        location: MESH_INTERNAL
        ports:
        - { number: 80, name: http, protocol: HTTP, targetPort: ${v1.port} }
        resolution: STATIC
        endpoints:
        - address: 127.0.0.2
          labels: { app: catalog, version: v1 }
        - address: 127.0.0.3
          ports: { http: ${v2.port} }
          labels: { app: catalog, version: v2 }
          weight: 3
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: DestinationRule
      metadata: { name: catalog }
      spec:
        host: catalog.istioinaction.svc.cluster.local
        subsets:
        - name: version-v1
          labels: { version: v1 }
        - name: version-v2
          labels: { version: v2 }
      ---
      apiVersion: networking.istio.io/v1alpha3
      kind: VirtualService
      metadata: { name: catalog-vs-from-gw }
      spec:
        hosts: [catalog.istioinaction.io]
        gateways: [gw]
        http:
        - route:
          - destination: { host: catalog, subset: version-v1 }
            weight: 90
          - destination: { host: catalog, subset: version-v2 }
            weight: 10
    `;
    const file = writeConfig(docs, "canary.yaml");
    canary = await startPorticoWith([
      "run",
      "-c",
      file,
      "--bind",
      "127.0.0.1",
      "--port",
      `80=${port}`,
      "--admin",
      "off",
    ]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { host: "catalog.istioinaction.io" } });
      expect(res.status).toBe(200);
      const who = await res.text();
      counts[who] = (counts[who] ?? 0) + 1;
    }
    // 10% of 200 is 20; binomial sd ≈ 4.2: 8..36 is beyond 3 sd either way.
    expect(counts.v2).toBeGreaterThanOrEqual(8);
    expect(counts.v2).toBeLessThanOrEqual(36);
    expect(counts.v1! + counts.v2!).toBe(200);
  });
});
