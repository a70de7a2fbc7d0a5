// The runtime registries: one Pool per pool key (made, updated in place keeping endpoint state,
// closed when gone) and one upstream client per service and TLS settings (a reload that changes
// a service's TLS gets a new client).
import { describe, expect, test } from "bun:test";
import { UpstreamClients } from "../../src/upstream/clients.ts";
import { poolSpec } from "../../src/upstream/pool/types.ts";
import { UpstreamPools } from "../../src/upstream/pools.ts";
import type { UpstreamClient, UpstreamTls } from "../../src/upstream/types.ts";

const ep = (address: string) => ({ address, port: 80, weight: 1, labels: {} });

describe("UpstreamPools", () => {
  test("apply starts every key, updates a changed spec keeping endpoint state, closes removed keys", () => {
    const pools = new UpstreamPools({ timers: false });
    pools.apply([
      poolSpec({ service: "a", endpoints: [ep("10.0.0.1")] }),
      poolSpec({ service: "b", endpoints: [ep("10.0.0.9")] }),
    ]);
    expect(pools.snapshot().map((s) => s.service)).toEqual(["a", "b"]);
    const a = pools.for(poolSpec({ service: "a", endpoints: [] }));
    const first = a.pick()!;
    a.begin(first); // a try in flight across the reload

    pools.apply([poolSpec({ service: "a", endpoints: [ep("10.0.0.1"), ep("10.0.0.2")] })]);
    expect(pools.for(poolSpec({ service: "a", endpoints: [] }))).toBe(a);
    const snap = pools.snapshot();
    expect(snap.map((s) => s.service)).toEqual(["a"]);
    expect(snap[0]!.endpoints.map((e) => [e.address, e.activeRequests])).toEqual([
      ["10.0.0.1", 1],
      ["10.0.0.2", 0],
    ]);
    pools.close();
  });

  test("a spec apply has not seen starts its pool on first use, and apply's spec is kept", () => {
    const pools = new UpstreamPools({ timers: false });
    const p = pools.for(poolSpec({ service: "x", endpoints: [ep("10.0.0.1")] }));
    expect(p.all().map((e) => e.address)).toEqual(["10.0.0.1"]);
    // An older plan's spec for the same key does not replace the running one.
    expect(pools.for(poolSpec({ service: "x", endpoints: [ep("10.0.0.7")] })).all()[0]!.address).toBe(
      "10.0.0.1",
    );
    pools.close();
  });
});

describe("UpstreamClients", () => {
  test("one client per service and TLS settings: equal settings share it, changed ones get a new one", () => {
    const made: (UpstreamTls | undefined)[] = [];
    const clients = new UpstreamClients((tls) => {
      made.push(tls);
      return (() => Promise.reject(new Error("unused"))) as UpstreamClient;
    });
    const before = clients.for({ service: "s", tls: { ca: "A" } });
    // A reload builds new objects with the same settings: same client.
    expect(clients.for({ service: "s", tls: { ca: "A" } })).toBe(before);
    // The TLS changed on reload: a new client with the new settings.
    const after = clients.for({ service: "s", tls: { ca: "B" } });
    expect(after).not.toBe(before);
    expect(made).toEqual([{ ca: "A" }, { ca: "B" }]);
    // Services without TLS share one.
    expect(clients.for({ service: "p" })).toBe(clients.for({ service: "q" }));
  });
});
