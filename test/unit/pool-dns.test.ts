// DNS resolution: the system's `localhost`, answers that change, failures that keep the last
// good answer, DNS_ROUND_ROBIN's first address, and endpoint state kept across answers.
import { describe, expect, test } from "bun:test";
import { DnsResolutionError, DnsResolver, type Lookup } from "../../src/upstream/pool/dns.ts";
import { Pool, type PoolEvent } from "../../src/upstream/pool/pool.ts";
import { poolSpec } from "../../src/upstream/pool/types.ts";

const name = (address: string, port = 8080) => ({ address, port, weight: 1, labels: { v: "1" } });

/** A resolver whose answers the test sets; a string answer is an error code. */
function fakeLookup(answers: Record<string, string[] | string>) {
  const calls: string[] = [];
  const lookup: Lookup = async (n) => {
    calls.push(n);
    const a = answers[n];
    if (a === undefined || typeof a === "string") {
      throw Object.assign(new Error(`lookup ${n}`), { code: a ?? "ENOTFOUND" });
    }
    return a.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return { lookup, calls, answers };
}

describe("DnsResolver", () => {
  test("localhost, from the system resolver: 127.0.0.1 (and ::1 where the system lists it)", async () => {
    let got: string[] = [];
    const r = new DnsResolver([name("localhost")], "DNS", 60_000, (eps) => {
      got = eps.map((e) => e.address);
    });
    await r.ready;
    r.close();
    expect(got).toContain("127.0.0.1");
    for (const a of got) expect(["127.0.0.1", "::1"]).toContain(a);
    expect(r.status().errors).toEqual([]);
  });

  test("every address is an endpoint (DNS); only the first (DNS_ROUND_ROBIN)", async () => {
    const f = fakeLookup({ "api.internal": ["10.0.0.1", "10.0.0.2"] });
    let all: string[] = [];
    let first: string[] = [];
    const a = new DnsResolver(
      [name("api.internal")],
      "DNS",
      60_000,
      (e) => (all = e.map((x) => x.address)),
      undefined,
      f.lookup,
    );
    const b = new DnsResolver(
      [name("api.internal")],
      "DNS_ROUND_ROBIN",
      60_000,
      (e) => (first = e.map((x) => x.address)),
      undefined,
      f.lookup,
    );
    await Promise.all([a.ready, b.ready]);
    a.close();
    b.close();
    expect(all).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(first).toEqual(["10.0.0.1"]);
  });

  test("a failed lookup keeps the last good answer and is reported", async () => {
    const f = fakeLookup({ "api.internal": ["10.0.0.1"] });
    const errors: DnsResolutionError[] = [];
    let got: string[] = [];
    const r = new DnsResolver(
      [name("api.internal")],
      "DNS",
      60_000,
      (e) => (got = e.map((x) => x.address)),
      (e) => errors.push(e),
      f.lookup,
    );
    await r.ready;
    f.answers["api.internal"] = "ESERVFAIL";
    await r.refresh();
    r.close();
    expect(got).toEqual(["10.0.0.1"]);
    expect(errors[0]).toBeInstanceOf(DnsResolutionError);
    expect(errors[0]!.message).toBe("cannot resolve api.internal: ESERVFAIL");
    expect((errors[0]!.cause as NodeJS.ErrnoException).code).toBe("ESERVFAIL");
    expect(r.status().errors).toEqual(["cannot resolve api.internal: ESERVFAIL"]);
  });

  test("looks again every refreshMs, and stops when closed", async () => {
    const f = fakeLookup({ "api.internal": ["10.0.0.1"] });
    const r = new DnsResolver([name("api.internal")], "DNS", 15, () => {}, undefined, f.lookup);
    const end = Date.now() + 2_000;
    while (f.calls.length < 3 && Date.now() < end) await new Promise((res) => setTimeout(res, 5));
    expect(f.calls.length).toBeGreaterThanOrEqual(3);
    r.close();
    const n = f.calls.length;
    await new Promise((res) => setTimeout(res, 60));
    expect(f.calls.length).toBeLessThanOrEqual(n + 1); // at most the one already under way
  });
});

describe("a DNS Pool", () => {
  test("localhost becomes endpoints; ready settles after the first answer", async () => {
    const pool = new Pool(
      poolSpec({ service: "s", resolution: "DNS", endpoints: [name("localhost", 9000)] }),
    );
    await pool.ready;
    pool.close();
    expect(pool.all().map((e) => e.key)).toContain("127.0.0.1:9000");
    expect(pool.snapshot().endpoints[0]).toMatchObject({
      hostname: "localhost",
      port: 9000,
      labels: { v: "1" },
    });
  });

  test("follows the answer: new addresses join, gone ones leave, kept ones keep their state", async () => {
    const f = fakeLookup({ "api.internal": ["10.0.0.1", "10.0.0.2"] });
    const events: PoolEvent[] = [];
    const pool = new Pool(
      poolSpec({ service: "s", resolution: "DNS", dnsRefreshMs: 60_000, endpoints: [name("api.internal")] }),
      { lookup: f.lookup, timers: false, onEvent: (e) => events.push(e) },
    );
    await pool.ready;
    const kept = pool.all().find((e) => e.address === "10.0.0.2")!;
    pool.begin(kept);
    f.answers["api.internal"] = ["10.0.0.2", "10.0.0.3"];
    await (pool as unknown as { dns: DnsResolver }).dns.refresh();
    pool.close();
    expect(pool.all().map((e) => e.address)).toEqual(["10.0.0.2", "10.0.0.3"]);
    expect(pool.all()[0]).toBe(kept);
    expect(pool.snapshot().endpoints[0]!.activeRequests).toBe(1);
  });

  test("a name that never resolved: no endpoints, an error event, nothing picked", async () => {
    const f = fakeLookup({});
    const events: PoolEvent[] = [];
    const pool = new Pool(
      poolSpec({ service: "s", resolution: "DNS", endpoints: [name("nowhere.invalid")] }),
      {
        lookup: f.lookup,
        onEvent: (e) => events.push(e),
      },
    );
    await pool.ready;
    pool.close();
    expect(pool.pick()).toBeUndefined();
    expect(events.map((e) => e.kind)).toEqual(["dns-error"]);
    expect(pool.snapshot().dns?.errors).toEqual(["cannot resolve nowhere.invalid: ENOTFOUND"]);
  });
});
