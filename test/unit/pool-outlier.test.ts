// Outlier detection with a fake clock: Envoy's consecutive-error ejections, multiplied ejection
// time, the max-ejection cap, return at the interval sweep, panic below minHealthPercent.
import { describe, expect, test } from "bun:test";
import { OutlierDetector } from "../../src/upstream/pool/outlier.ts";
import { type Endpoint, Pool, type PoolEvent } from "../../src/upstream/pool/pool.ts";
import { type OutlierDetectionSpec, outlierDetection, poolSpec } from "../../src/upstream/pool/types.ts";

function clock() {
  const c = { t: 1_000_000, now: () => c.t };
  return c;
}

function detector(spec: Partial<OutlierDetectionSpec>, hosts = 1) {
  const c = clock();
  const d = new OutlierDetector<string>(outlierDetection({ maxEjectionPercent: 100, ...spec }), c.now);
  for (let i = 0; i < hosts; i++) d.add(`h${i}`);
  return { d, c };
}

describe("defaults", () => {
  test("Istio's defaults fill what the block leaves out", () => {
    expect(outlierDetection()).toEqual({
      consecutive5xxErrors: 5,
      consecutiveGatewayErrors: 0,
      splitExternalLocalOriginErrors: false,
      consecutiveLocalOriginFailures: 5,
      intervalMs: 10_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionPercent: 10,
      minHealthPercent: 0,
    });
  });
});

describe("consecutive errors eject at once", () => {
  test("the Nth 5xx in a row ejects, not before, and without waiting for the interval", () => {
    const { d } = detector({ consecutive5xxErrors: 3 });
    expect(d.report("h0", 500)).toBeUndefined();
    expect(d.report("h0", 500)).toBeUndefined();
    expect(d.isEjected("h0")).toBe(false);
    expect(d.report("h0", 500)).toBe("consecutive-5xx");
    expect(d.isEjected("h0")).toBe(true);
    expect(d.ejections("h0")).toBe(1);
  });

  test("a success in between starts the count again; 4xx is a success here", () => {
    const { d } = detector({ consecutive5xxErrors: 3 });
    d.report("h0", 500);
    d.report("h0", 500);
    d.report("h0", 404);
    d.report("h0", 500);
    d.report("h0", 500);
    expect(d.isEjected("h0")).toBe(false);
    d.report("h0", 500);
    expect(d.isEjected("h0")).toBe(true);
  });

  test("connect failures, resets and timeouts count as 503/504 without the split", () => {
    const { d } = detector({ consecutive5xxErrors: 3 });
    d.report("h0", "connect-failure");
    d.report("h0", "reset");
    expect(d.report("h0", "timeout")).toBe("consecutive-5xx");
  });

  test("gateway errors: only 502/503/504 count, another 5xx breaks the run", () => {
    const { d } = detector({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 });
    d.report("h0", 502);
    d.report("h0", 500);
    d.report("h0", 503);
    expect(d.isEjected("h0")).toBe(false);
    expect(d.report("h0", 504)).toBe("consecutive-gateway-errors");
  });

  test("0 disables a detector", () => {
    const { d } = detector({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 0 });
    for (let i = 0; i < 50; i++) d.report("h0", 503);
    expect(d.isEjected("h0")).toBe(false);
  });

  test("split: local-origin failures have their own count; responses do not add to it", () => {
    const { d } = detector({
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailures: 2,
      consecutive5xxErrors: 10,
    });
    d.report("h0", "connect-failure");
    d.report("h0", 200); // the connection worked: the local count starts again
    d.report("h0", "connect-failure");
    expect(d.isEjected("h0")).toBe(false);
    expect(d.report("h0", "timeout")).toBe("consecutive-local-origin");
  });

  test("split: local-origin failures do not count as 5xx", () => {
    const { d } = detector({
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailures: 100,
      consecutive5xxErrors: 2,
    });
    d.report("h0", 500);
    d.report("h0", "connect-failure");
    d.report("h0", "reset");
    expect(d.isEjected("h0")).toBe(false);
    expect(d.report("h0", 500)).toBe("consecutive-5xx");
  });
});

describe("ejection time", () => {
  test("returns at the sweep once baseEjectionTime × ejections has passed, not before", () => {
    const { d, c } = detector({ consecutive5xxErrors: 1, baseEjectionTimeMs: 30_000 });
    d.report("h0", 500);
    expect(d.ejectedUntil("h0")).toBe(c.t + 30_000);
    c.t += 29_999;
    expect(d.sweep()).toEqual([]);
    c.t += 1;
    expect(d.sweep()).toEqual(["h0"]);
    expect(d.isEjected("h0")).toBe(false);
  });

  test("a host that fails again right away is ejected for twice, then three times as long", () => {
    const { d, c } = detector({ consecutive5xxErrors: 1, baseEjectionTimeMs: 30_000 });
    d.report("h0", 500);
    c.t += 30_000;
    d.sweep();
    d.report("h0", 500);
    expect(d.ejections("h0")).toBe(2);
    expect(d.ejectedUntil("h0")).toBe(c.t + 60_000);
    c.t += 60_000;
    d.sweep();
    d.report("h0", 500);
    expect(d.ejectedUntil("h0")).toBe(c.t + 90_000);
  });

  test("each clean sweep lowers the multiplier again; the cap is maxEjectionTime", () => {
    const { d, c } = detector({
      consecutive5xxErrors: 1,
      baseEjectionTimeMs: 10_000,
      maxEjectionTimeMs: 25_000,
    });
    for (let i = 0; i < 5; i++) {
      d.report("h0", 500);
      c.t += 100_000;
      d.sweep();
    }
    d.report("h0", 500);
    expect(d.ejectedUntil("h0")).toBe(c.t + 25_000); // capped
    c.t += 25_000;
    d.sweep();
    // The multiplier stopped at 4 (Envoy raises it while multiplier × base < max + base); three
    // clean sweeps take it to 1, and the next ejection raises it to 2: 20 s.
    d.sweep();
    d.sweep();
    d.sweep();
    d.report("h0", 500);
    expect(d.ejectedUntil("h0")).toBe(c.t + 20_000);
  });

  test("the counters start again when a host returns", () => {
    const { d, c } = detector({ consecutive5xxErrors: 2, baseEjectionTimeMs: 1_000 });
    d.report("h0", 500);
    d.report("h0", 500);
    c.t += 1_000;
    d.sweep();
    d.report("h0", 500);
    expect(d.isEjected("h0")).toBe(false);
  });
});

describe("maxEjectionPercent", () => {
  test("caps ejected hosts: 100 × (ejected + 1) / hosts must stay within it", () => {
    const { d } = detector({ consecutive5xxErrors: 1, maxEjectionPercent: 20 }, 10);
    for (let i = 0; i < 10; i++) d.report(`h${i}`, 500);
    const ejected = Array.from({ length: 10 }, (_, i) => d.isEjected(`h${i}`)).filter(Boolean);
    expect(ejected.length).toBe(2);
  });

  test("Istio's default 10% ejects nothing from fewer than ten hosts (as Envoy)", () => {
    const { d } = detector({ consecutive5xxErrors: 1, maxEjectionPercent: 10 }, 9);
    d.report("h0", 500);
    expect(d.isEjected("h0")).toBe(false);
    const ten = detector({ consecutive5xxErrors: 1, maxEjectionPercent: 10 }, 10);
    ten.d.report("h0", 500);
    expect(ten.d.isEjected("h0")).toBe(true);
  });
});

describe("in a Pool", () => {
  const endpoints = [1, 2, 3, 4].map((i) => ({ address: `127.0.0.${i}`, port: 80, weight: 1, labels: {} }));
  function pool(od: Partial<OutlierDetectionSpec>) {
    const c = clock();
    const events: PoolEvent[] = [];
    const p = new Pool(
      poolSpec({
        service: "s",
        endpoints,
        loadBalancer: { kind: "ROUND_ROBIN" },
        outlierDetection: outlierDetection({ maxEjectionPercent: 100, ...od }),
      }),
      { now: c.now, timers: false, onEvent: (e) => events.push(e) },
    );
    const fail = (e: Endpoint, n: number) => {
      for (let i = 0; i < n; i++) {
        p.begin(e);
        p.end(e, 503);
      }
    };
    return { p, c, events, fail };
  }

  test("an ejected endpoint gets no picks until it returns; /upstreams shows it", () => {
    const { p, c, events, fail } = pool({ consecutive5xxErrors: 2, baseEjectionTimeMs: 5_000 });
    const bad = p.all()[0]!;
    fail(bad, 2);
    expect(events).toEqual([{ kind: "ejected", endpoint: bad, reason: "consecutive-5xx" }]);
    for (let i = 0; i < 30; i++) expect(p.pick()).not.toBe(bad);
    const row = p.snapshot().endpoints.find((e) => e.address === bad.address)!;
    expect(row).toMatchObject({ health: "ejected", ejected: true, ejections: 1, ejectedUntil: c.t + 5_000 });
    c.t += 5_000;
    p.sweep();
    expect(events.at(-1)).toEqual({ kind: "returned", endpoint: bad });
    const seen = new Set(Array.from({ length: 8 }, () => p.pick()));
    expect(seen.has(bad)).toBe(true);
  });

  test("minHealthPercent 0 (Istio's default): no panic; with every endpoint ejected, none is picked", () => {
    const { p, fail } = pool({ consecutive5xxErrors: 1 });
    for (const e of p.all()) fail(e, 1);
    expect(p.pick()).toBeUndefined();
    expect(p.snapshot().panic).toBe(false);
  });

  test("below minHealthPercent, every endpoint takes traffic again (panic)", () => {
    const { p, fail } = pool({ consecutive5xxErrors: 1, minHealthPercent: 50 });
    const [a, b, c] = p.all();
    fail(a!, 1);
    // 3 of 4 healthy (75%): the ejected one is avoided.
    expect(new Set(Array.from({ length: 12 }, () => p.pick())).has(a)).toBe(false);
    fail(b!, 1);
    // 2 of 4 (50%) is not below 50: still no panic.
    expect(p.snapshot().panic).toBe(false);
    fail(c!, 1);
    // 1 of 4 (25%) < 50%: panic, all four again.
    expect(p.snapshot().panic).toBe(true);
    expect(new Set(Array.from({ length: 12 }, () => p.pick())).size).toBe(4);
  });
});
