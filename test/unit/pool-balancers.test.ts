// The load balancers, alone and through a Pool: shares per policy over bounded, seeded runs;
// P2C preferring the less loaded host; the ring's stickiness and spread; xxHash64 itself.
import { describe, expect, test } from "bun:test";
import { type Balanced, createBalancer, ringHash } from "../../src/upstream/pool/balancers.ts";
import { xxHash64 } from "../../src/upstream/pool/hash.ts";
import { Pool } from "../../src/upstream/pool/pool.ts";
import { type LoadBalancerSpec, poolSpec } from "../../src/upstream/pool/types.ts";
import { seededRandom, tally } from "../helpers/seeded-random.ts";

interface Host extends Balanced {
  key: string;
  weight: number;
  active: number;
}
const hosts = (...weights: number[]): Host[] =>
  weights.map((weight, i) => ({ key: `10.0.0.${i + 1}:80`, weight, active: 0 }));

const picks = (b: { pick(h: bigint | undefined, a: number): Host | undefined }, n: number) =>
  Array.from({ length: n }, () => b.pick(undefined, 0)!.key);

describe("xxHash64", () => {
  test("matches the reference vectors (seed 0)", () => {
    expect(xxHash64("").toString(16)).toBe("ef46db3751d8e999");
    expect(xxHash64("a").toString(16)).toBe("d24ec4f1a98c6e5b");
    expect(xxHash64("abc").toString(16)).toBe("44bc2cf5ad770999");
    // 39 bytes: the 32-byte stripe loop, then the 4-byte and 1-byte tails.
    expect(xxHash64("Nobody inspects the spammish repetition").toString(16)).toBe("fbcea83c8a378bf1");
  });
});

describe("ROUND_ROBIN", () => {
  test("equal weights take turns in order", () => {
    const b = createBalancer({ kind: "ROUND_ROBIN" }, hosts(1, 1, 1), { random: Math.random });
    expect(picks(b, 6)).toEqual([
      "10.0.0.1:80",
      "10.0.0.2:80",
      "10.0.0.3:80",
      "10.0.0.1:80",
      "10.0.0.2:80",
      "10.0.0.3:80",
    ]);
  });

  test("weights are honoured exactly over a whole cycle, and interleaved (EDF, not bursts)", () => {
    const b = createBalancer({ kind: "ROUND_ROBIN" }, hosts(1, 3), { random: Math.random });
    const seq = picks(b, 400);
    const t = tally(seq);
    expect(t.get("10.0.0.1:80")).toBe(100);
    expect(t.get("10.0.0.2:80")).toBe(300);
    // The light host comes up every few picks, not in one burst.
    const gaps = seq
      .flatMap((k, i) => (k === "10.0.0.1:80" ? [i] : []))
      .map((i, j, a) => i - (a[j - 1] ?? -1));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(5);
  });

  test("weight 0 is never chosen", () => {
    const b = createBalancer({ kind: "ROUND_ROBIN" }, hosts(0, 1), { random: Math.random });
    expect(new Set(picks(b, 10))).toEqual(new Set(["10.0.0.2:80"]));
  });
});

describe("RANDOM", () => {
  test("weighted shares within 3 points over 20 000 seeded picks", () => {
    const b = createBalancer({ kind: "RANDOM" }, hosts(1, 2, 7), { random: seededRandom(7) });
    const t = tally(picks(b, 20_000));
    expect(Math.abs(t.get("10.0.0.1:80")! / 20_000 - 0.1)).toBeLessThan(0.03);
    expect(Math.abs(t.get("10.0.0.2:80")! / 20_000 - 0.2)).toBeLessThan(0.03);
    expect(Math.abs(t.get("10.0.0.3:80")! / 20_000 - 0.7)).toBeLessThan(0.03);
  });
});

describe("LEAST_REQUEST", () => {
  test("equal weights: two random choices, the less loaded wins", () => {
    const hs = hosts(1, 1, 1, 1);
    hs[0]!.active = 10; // busy
    const b = createBalancer({ kind: "LEAST_REQUEST" }, hs, { random: seededRandom(3) });
    const t = tally(picks(b, 4000));
    // The busy host wins only when both choices land on it: 1/16 of picks.
    expect(t.get("10.0.0.1:80")! / 4000).toBeLessThan(0.1);
    expect(t.get("10.0.0.1:80")! / 4000).toBeGreaterThan(0.03);
    for (const k of ["10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"]) {
      expect(t.get(k)! / 4000).toBeGreaterThan(0.25);
    }
  });

  test("idle equal hosts share evenly", () => {
    const b = createBalancer({ kind: "LEAST_REQUEST" }, hosts(1, 1), { random: seededRandom(11) });
    const t = tally(picks(b, 4000));
    expect(Math.abs(t.get("10.0.0.1:80")! / 4000 - 0.5)).toBeLessThan(0.04);
  });

  test("unequal weights: weight / (active + 1), so load shifts the share", () => {
    const hs = hosts(1, 2);
    const b = createBalancer({ kind: "LEAST_REQUEST" }, hs, { random: Math.random });
    expect(tally(picks(b, 300)).get("10.0.0.2:80")).toBe(200);
    hs[1]!.active = 3; // effective weight 2/4 = 0.5 < 1
    const t = tally(picks(b, 300));
    expect(t.get("10.0.0.1:80")!).toBeGreaterThan(t.get("10.0.0.2:80")!);
  });
});

describe("CONSISTENT_HASH (ring hash)", () => {
  const keys = Array.from({ length: 1000 }, (_, i) => xxHash64(`user-${i}`));

  test("the ring has at least 1024 entries, and a host's share follows its weight", () => {
    const ring = ringHash(hosts(1, 1, 1), 1024, Math.random);
    expect(ring.size).toBeGreaterThanOrEqual(1024);
    // The lightest host gets a whole number of entries: 256 and 768 here.
    const weighted = ringHash(hosts(1, 3), 1024, Math.random);
    expect(weighted.size).toBe(1024);
    const many = Array.from({ length: 10_000 }, (_, i) => xxHash64(`w${i}`));
    const t = tally(many.map((k) => weighted.pick(k, 0)!.key));
    expect(Math.abs(t.get("10.0.0.2:80")! / 10_000 - 0.75)).toBeLessThan(0.06);
  });

  test("the same key always lands on the same host", () => {
    const ring = ringHash(hosts(1, 1, 1, 1), 1024, Math.random);
    for (const k of keys.slice(0, 50)) expect(ring.pick(k, 0)).toBe(ring.pick(k, 0));
  });

  test("keys spread over ten hosts within ±35% of an even share", () => {
    const ring = ringHash(hosts(...Array(10).fill(1)), 1024, Math.random);
    const many = Array.from({ length: 10_000 }, (_, i) => xxHash64(`k${i}`));
    const t = tally(many.map((k) => ring.pick(k, 0)!.key));
    expect(t.size).toBe(10);
    for (const n of t.values()) expect(Math.abs(n - 1000)).toBeLessThan(350);
  });

  test("adding an eleventh host keeps at least 80% of 1000 keys where they were", () => {
    const ten = hosts(...Array(10).fill(1));
    const before = ringHash(ten, 1024, Math.random);
    const after = ringHash([...ten, { key: "10.0.0.11:80", weight: 1, active: 0 }], 1024, Math.random);
    const kept = keys.filter((k) => before.pick(k, 0)!.key === after.pick(k, 0)!.key).length;
    expect(kept).toBeGreaterThanOrEqual(800);
    // The new host takes about its share (1/11), not more.
    const toNew = keys.filter((k) => after.pick(k, 0)!.key === "10.0.0.11:80").length;
    expect(toNew).toBeGreaterThan(40);
    expect(toNew).toBeLessThan(150);
  });

  test("a ring built from cached entry hashes is the ring built afresh", () => {
    const cache = new Map<string, bigint[]>();
    ringHash(hosts(1, 1, 1, 1, 1), 1024, Math.random, cache);
    const cached = ringHash(hosts(1, 2, 1), 1024, Math.random, cache);
    const fresh = ringHash(hosts(1, 2, 1), 1024, Math.random);
    expect(cached.size).toBe(fresh.size);
    for (const k of keys) expect(cached.pick(k, 0)!.key).toBe(fresh.pick(k, 0)!.key);
  });

  test("a later attempt walks on to another host, the same one every time", () => {
    const ring = ringHash(hosts(1, 1, 1), 1024, Math.random);
    for (const k of keys.slice(0, 20)) {
      const first = ring.pick(k, 0)!;
      const second = ring.pick(k, 1)!;
      expect(second).not.toBe(first);
      expect(ring.pick(k, 1)).toBe(second);
      const third = ring.pick(k, 2)!;
      expect(new Set([first, second, third]).size).toBe(3);
    }
  });

  test("no key: a random host", () => {
    const ring = ringHash(hosts(1, 1), 1024, seededRandom(5));
    const t = tally(Array.from({ length: 1000 }, () => ring.pick(undefined, 0)!.key));
    expect(t.size).toBe(2);
  });
});

describe("through a Pool", () => {
  const endpoints = [1, 2, 3].map((i) => ({ address: `127.0.0.${i}`, port: 8080, weight: 1, labels: {} }));
  const pool = (loadBalancer: LoadBalancerSpec) =>
    new Pool(poolSpec({ service: "s", endpoints, loadBalancer }), { random: seededRandom(1), timers: false });

  test("a header key sticks to one endpoint; different keys reach every endpoint", () => {
    const p = pool({ kind: "CONSISTENT_HASH", key: { header: "x-user" } });
    const req = (user: string) => new Request("http://h/", { headers: { "x-user": user } });
    const first = p.pick({ hashKey: p.hashKey(req("alice"), "1.2.3.4").key })!;
    for (let i = 0; i < 20; i++)
      expect(p.pick({ hashKey: p.hashKey(req("alice"), "9.9.9.9").key })).toBe(first);
    const reached = new Set(
      Array.from({ length: 200 }, (_, i) => p.pick({ hashKey: p.hashKey(req(`u${i}`), "").key })!.key),
    );
    expect(reached.size).toBe(3);
  });

  test("exclude: a retry goes elsewhere whenever another endpoint exists, whatever the policy", () => {
    for (const kind of ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"] as const) {
      const p = pool({ kind });
      for (let i = 0; i < 50; i++) {
        const first = p.pick()!;
        const second = p.pick({ exclude: new Set([first]) })!;
        expect(second).not.toBe(first);
        const third = p.pick({ exclude: new Set([first, second]) })!;
        expect([first, second]).not.toContain(third);
      }
    }
    const ch = pool({ kind: "CONSISTENT_HASH", key: { header: "x-user" } });
    const first = ch.pick({ hashKey: "alice" })!;
    expect(ch.pick({ hashKey: "alice", exclude: new Set([first]) })).not.toBe(first);
  });

  test("exclude with every endpoint excluded: still an endpoint (Envoy uses the last pick)", () => {
    const p = pool({ kind: "ROUND_ROBIN" });
    expect(p.pick({ exclude: new Set(p.all()) })).toBeDefined();
  });
});
