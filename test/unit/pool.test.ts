// The Pool's contract with the proxy: subsets by labels, hash keys (cookie set when missing),
// in-flight accounting, the admin snapshot, reloads that keep endpoint state, close().
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashKeyFor, readCookie, setCookieValue } from "../../src/upstream/pool/hash-key.ts";
import { Pool } from "../../src/upstream/pool/pool.ts";
import { hostPort } from "../../src/util/host-table.ts";
import { outlierDetection, poolSpec, selectEndpoints } from "../../src/upstream/pool/types.ts";
import { seededRandom } from "../helpers/seeded-random.ts";

const ep = (address: string, labels: Record<string, string> = {}, weight = 1) => ({
  address,
  port: 80,
  weight,
  labels,
});

describe("selectEndpoints", () => {
  const eps = [
    ep("10.0.0.1", { version: "v1", zone: "a" }),
    ep("10.0.0.2", { version: "v2", zone: "a" }),
    ep("10.0.0.3", { version: "v1" }),
  ];
  test("every label must match; none selects all", () => {
    expect(selectEndpoints(eps, { version: "v1" }).map((e) => e.address)).toEqual(["10.0.0.1", "10.0.0.3"]);
    expect(selectEndpoints(eps, { version: "v1", zone: "a" }).map((e) => e.address)).toEqual(["10.0.0.1"]);
    expect(selectEndpoints(eps, { version: "v3" })).toEqual([]);
    expect(selectEndpoints(eps, {})).toHaveLength(3);
  });
});

describe("hash keys", () => {
  const req = (headers: Record<string, string> = {}, url = "http://h/p?user=bob") =>
    new Request(url, { headers });

  test("header, source IP, query parameter", () => {
    expect(hashKeyFor({ header: "x-user" }, req({ "x-user": "alice" }), "1.2.3.4")).toEqual({ key: "alice" });
    expect(hashKeyFor({ header: "x-user" }, req(), "1.2.3.4")).toEqual({ key: undefined });
    expect(hashKeyFor({ sourceIp: true }, req(), "1.2.3.4")).toEqual({ key: "1.2.3.4" });
    expect(hashKeyFor({ queryParameter: "user" }, req(), "")).toEqual({ key: "bob" });
  });

  test("cookie: its value when present (quotes stripped), else a new one to set when there is a ttl", () => {
    const policy = { cookie: { name: "sticky", path: "/", ttlMs: 60_000 } };
    expect(hashKeyFor(policy, req({ cookie: 'a=1; sticky="abc"' }), "")).toEqual({ key: "abc" });
    const fresh = hashKeyFor(policy, req(), "");
    expect(fresh.key).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.setCookie).toBe(`sticky=${fresh.key}; Max-Age=60; Path=/; HttpOnly`);
    expect(hashKeyFor(policy, req(), "").key).not.toBe(fresh.key);
    // No ttl: Envoy generates nothing and the request has no key.
    expect(hashKeyFor({ cookie: { name: "sticky" } }, req(), "")).toEqual({});
    expect(setCookieValue("s", "v", undefined, 0)).toBe("s=v; HttpOnly");
    expect(readCookie("x=1;y=2", "y")).toBe("2");
  });

  test("a pool with a cookie policy sticks once the client sends the cookie back", () => {
    const pool = new Pool(
      poolSpec({
        service: "s",
        endpoints: [ep("10.0.0.1"), ep("10.0.0.2"), ep("10.0.0.3")],
        loadBalancer: { kind: "CONSISTENT_HASH", key: { cookie: { name: "sticky", ttlMs: 1_000 } } },
      }),
      { timers: false },
    );
    const first = pool.hashKey(new Request("http://h/"), "");
    const chosen = pool.pick({ hashKey: first.key });
    const cookie = first.setCookie!.split(";")[0]!;
    for (let i = 0; i < 10; i++) {
      const again = pool.hashKey(new Request("http://h/", { headers: { cookie } }), "");
      expect(again.setCookie).toBeUndefined();
      expect(pool.pick({ hashKey: again.key })).toBe(chosen);
    }
  });

  test("round robin pools have no hash key", () => {
    const pool = new Pool(poolSpec({ service: "s", endpoints: [ep("10.0.0.1")] }), { timers: false });
    expect(pool.hashKey(new Request("http://h/"), "1.1.1.1")).toEqual({});
  });
});

describe("Pool", () => {
  test("endpoint keys bracket IPv6", () => {
    expect(hostPort("::1", 80)).toBe("[::1]:80");
    expect(hostPort("10.0.0.1", 80)).toBe("10.0.0.1:80");
  });

  test("begin/end count tries in flight; LEAST_REQUEST sees them", () => {
    const pool = new Pool(poolSpec({ service: "s", endpoints: [ep("10.0.0.1"), ep("10.0.0.2")] }), {
      timers: false,
      random: seededRandom(2),
    });
    const [a, b] = pool.all();
    for (let i = 0; i < 5; i++) pool.begin(a!);
    expect(pool.snapshot().endpoints.map((e) => e.activeRequests)).toEqual([5, 0]);
    // With two hosts, P2C picks the busy one only when both draws land on it.
    const picks = Array.from({ length: 200 }, () => pool.pick());
    expect(picks.filter((p) => p === b).length).toBeGreaterThan(120);
    for (let i = 0; i < 5; i++) pool.end(a!, 200);
    expect(pool.snapshot().endpoints[0]!.activeRequests).toBe(0);
  });

  test("weight 0 endpoints are listed but never picked", () => {
    const pool = new Pool(poolSpec({ service: "s", endpoints: [ep("10.0.0.1", {}, 0), ep("10.0.0.2")] }), {
      timers: false,
    });
    expect(pool.snapshot().endpoints).toHaveLength(2);
    for (let i = 0; i < 20; i++) expect(pool.pick()?.address).toBe("10.0.0.2");
  });

  test("snapshot: every endpoint with address, weight, labels, health, ejections, active requests", () => {
    const pool = new Pool(
      poolSpec({ service: "reviews", endpoints: [ep("10.0.0.1", { version: "v1" }, 3)] }),
      { timers: false },
    );
    expect(pool.snapshot()).toEqual({
      service: "reviews",
      resolution: "STATIC",
      loadBalancer: "LEAST_REQUEST",
      panic: false,
      circuit: { connections: 0, pending: 0, requests: 0, retries: 0 },
      endpoints: [
        {
          address: "10.0.0.1",
          port: 80,
          weight: 3,
          labels: { version: "v1" },
          health: "healthy",
          activeCheck: "off",
          ejected: false,
          ejections: 0,
          activeRequests: 0,
        },
      ],
    });
  });

  test("update keeps the state of endpoints that stay, adds and removes the others", () => {
    const t = { now: 0 };
    const spec = poolSpec({
      service: "s",
      loadBalancer: { kind: "ROUND_ROBIN" },
      endpoints: [ep("10.0.0.1"), ep("10.0.0.2"), ep("10.0.0.3")],
      outlierDetection: outlierDetection({ consecutive5xxErrors: 1, maxEjectionPercent: 100 }),
    });
    const pool = new Pool(spec, { timers: false, now: () => t.now });
    const [a, b] = pool.all();
    pool.begin(b!);
    pool.begin(a!);
    pool.end(a!, 500); // a ejected
    pool.update({ ...spec, endpoints: [ep("10.0.0.1"), ep("10.0.0.2", { v: "2" }, 5), ep("10.0.0.4")] });
    const after = pool.all();
    expect(after.map((e) => e.address)).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.4"]);
    expect(after[0]).toBe(a);
    expect(after[1]).toBe(b);
    expect(b!.weight).toBe(5);
    expect(b!.labels).toEqual({ v: "2" });
    const snap = pool.snapshot().endpoints;
    expect(snap[0]).toMatchObject({ ejected: true, ejections: 1 });
    expect(snap[1]).toMatchObject({ activeRequests: 1 });
    for (let i = 0; i < 12; i++) expect(pool.pick()).not.toBe(a);
  });

  test("no timer keeps the process alive: a pool with every timer running, never closed, lets it exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pool-"));
    const script = join(dir, "idle-pool.ts");
    const poolUrl = new URL("../../src/upstream/pool/pool.ts", import.meta.url).href;
    const typesUrl = new URL("../../src/upstream/pool/types.ts", import.meta.url).href;
    writeFileSync(
      script,
      `import { Pool } from ${JSON.stringify(poolUrl)};
import { healthCheck, outlierDetection, poolSpec } from ${JSON.stringify(typesUrl)};
const pool = new Pool(poolSpec({
  service: "s", resolution: "DNS", dnsRefreshMs: 50,
  endpoints: [{ address: "localhost", port: 1, weight: 1, labels: {} }],
  outlierDetection: outlierDetection({ intervalMs: 50 }),
  healthCheck: healthCheck({ kind: "tcp", intervalMs: 50, timeoutMs: 50 }),
}));
await pool.ready;
await new Promise((r) => setTimeout(r, 200));
console.log("endpoints", pool.all().length);
`,
    );
    try {
      const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
      const exited = await Promise.race([
        proc.exited,
        new Promise((r) => setTimeout(() => r("hung"), 5_000)),
      ]);
      if (exited === "hung") proc.kill();
      expect(exited).toBe(0);
      expect(await new Response(proc.stdout).text()).toContain("endpoints 1");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("close() stops the sweep timer; the pool still answers with what it had", async () => {
    const t = { now: 0 };
    const spec = poolSpec({
      service: "s",
      endpoints: [ep("10.0.0.1"), ep("10.0.0.2")],
      outlierDetection: outlierDetection({
        consecutive5xxErrors: 1,
        maxEjectionPercent: 100,
        intervalMs: 5,
        baseEjectionTimeMs: 1,
      }),
    });
    const pool = new Pool(spec, { now: () => t.now });
    const a = pool.all()[0]!;
    pool.end(a, 500);
    t.now = 10;
    // The timer sweeps on its own: the ejected endpoint returns.
    const end = Date.now() + 2_000;
    while (pool.snapshot().endpoints[0]!.ejected && Date.now() < end)
      await new Promise((r) => setTimeout(r, 5));
    expect(pool.snapshot().endpoints[0]!.ejected).toBe(false);
    pool.close();
    pool.end(a, 500);
    t.now = 20;
    await new Promise((r) => setTimeout(r, 40));
    expect(pool.snapshot().endpoints[0]!.ejected).toBe(true);
    expect(pool.pick()?.address).toBe("10.0.0.2");
  });
});
