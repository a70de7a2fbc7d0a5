// The one weighted choice, shared by HTTP routes (ProxyAction) and TCP/TLS routes (StreamRoutePlan),
// and the percentage roll of faults and mirrors.
import { describe, expect, test } from "bun:test";
import { chance, pickWeighted } from "../../src/util/random.ts";

const choice = (...weights: number[]) => ({
  upstreams: weights.map((weight, i) => ({ service: `s${i}`, weight })),
  totalWeight: weights.reduce((a, b) => a + b, 0),
});

describe("pickWeighted", () => {
  test("each destination takes its share of the ticket range, in order", () => {
    const c = choice(20, 30, 50);
    expect(pickWeighted(c, () => 0)?.service).toBe("s0");
    expect(pickWeighted(c, () => 0.1999)?.service).toBe("s0");
    expect(pickWeighted(c, () => 0.2)?.service).toBe("s1");
    expect(pickWeighted(c, () => 0.4999)?.service).toBe("s1");
    expect(pickWeighted(c, () => 0.5)?.service).toBe("s2");
    expect(pickWeighted(c, () => 0.9999)?.service).toBe("s2");
  });

  test("weight 0 is never chosen, wherever it stands", () => {
    for (const c of [choice(0, 1), choice(1, 0), choice(0, 1, 0)]) {
      const only = c.upstreams.find((u) => u.weight > 0)!.service;
      for (const r of [0, 0.5, 0.999999]) expect(pickWeighted(c, () => r)?.service).toBe(only);
    }
  });

  test("a ticket past the end (floating-point leftovers) lands on the last destination with a weight", () => {
    expect(pickWeighted(choice(1, 2, 0), () => 1)?.service).toBe("s1");
  });

  test("nothing to choose when no destination has a weight", () => {
    expect(pickWeighted(choice(0))).toBeUndefined();
    expect(pickWeighted(choice(0, 0))).toBeUndefined();
    expect(pickWeighted(choice())).toBeUndefined();
  });

  test("a lone destination with a weight takes everything", () => {
    expect(pickWeighted(choice(7), () => 0.99)?.service).toBe("s0");
  });

  test("the split converges on the weights", () => {
    const c = choice(1, 3);
    let s1 = 0;
    for (let i = 0; i < 4000; i++) if (pickWeighted(c)?.service === "s1") s1++;
    expect(s1 / 4000).toBeGreaterThan(0.7);
    expect(s1 / 4000).toBeLessThan(0.8);
  });
});

describe("chance", () => {
  test("0 never, 100 (or more) always, otherwise about that share", () => {
    const share = (p: number) => {
      let n = 0;
      for (let i = 0; i < 4000; i++) if (chance(p)) n++;
      return n / 4000;
    };
    expect(share(0)).toBe(0);
    expect(share(100)).toBe(1);
    expect(share(150)).toBe(1);
    expect(share(25)).toBeGreaterThan(0.2);
    expect(share(25)).toBeLessThan(0.3);
  });
});
