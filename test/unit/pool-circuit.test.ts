// Circuit breaking: admits up to each limit and not beyond; a request past maxConnections waits
// (bounded by http1MaxPendingRequests) and gets the connection another releases.
import { describe, expect, test } from "bun:test";
import { CircuitBreaker, type Ticket } from "../../src/upstream/pool/circuit-breaker.ts";
import { connectionPool, UNLIMITED } from "../../src/upstream/pool/types.ts";

const isTicket = (t: unknown): t is Ticket => typeof t === "object" && t !== null && "release" in t;
const settled = async (p: Promise<void>) => {
  let done = false;
  p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 0));
  return done;
};

describe("defaults", () => {
  test("Istio writes 2^32-1 for every unset threshold", () => {
    const d = connectionPool();
    expect([d.maxConnections, d.http1MaxPendingRequests, d.http2MaxRequests, d.maxRetries]).toEqual([
      UNLIMITED,
      UNLIMITED,
      UNLIMITED,
      UNLIMITED,
    ]);
    expect(UNLIMITED).toBe(2 ** 32 - 1);
  });
});

describe("CircuitBreaker", () => {
  test("maxConnections 2, pending 1: two go, one waits, the fourth overflows at once", async () => {
    const cb = new CircuitBreaker(connectionPool({ maxConnections: 2, http1MaxPendingRequests: 1 }));
    const a = cb.admit();
    const b = cb.admit();
    const c = cb.admit();
    const d = cb.admit();
    if (!isTicket(a) || !isTicket(b) || !isTicket(c)) throw new Error("expected tickets");
    expect(d).toBe("pending-requests");
    expect(await settled(a.ready)).toBe(true);
    expect(await settled(c.ready)).toBe(false);
    expect(cb.counts()).toEqual({ connections: 2, pending: 1, requests: 3, retries: 0 });
    a.release();
    expect(await settled(c.ready)).toBe(true);
    expect(cb.counts()).toEqual({ connections: 2, pending: 0, requests: 2, retries: 0 });
    // A freed pending slot takes the next one.
    expect(isTicket(cb.admit())).toBe(true);
  });

  test("a waiting request that gives up leaves the queue", () => {
    const cb = new CircuitBreaker(connectionPool({ maxConnections: 1, http1MaxPendingRequests: 1 }));
    const a = cb.admit() as Ticket;
    const w = cb.admit() as Ticket;
    expect(cb.admit()).toBe("pending-requests");
    w.release();
    w.release(); // idempotent
    expect(cb.counts().pending).toBe(0);
    expect(isTicket(cb.admit())).toBe(true);
    a.release();
  });

  test("http2MaxRequests bounds requests in flight; multiplexed requests do not need connections", () => {
    const cb = new CircuitBreaker(connectionPool({ maxConnections: 1, http2MaxRequests: 3 }));
    const ts = [
      cb.admit({ multiplexed: true }),
      cb.admit({ multiplexed: true }),
      cb.admit({ multiplexed: true }),
    ];
    expect(ts.every(isTicket)).toBe(true);
    expect(cb.admit({ multiplexed: true })).toBe("max-requests");
    (ts[0] as Ticket).release();
    expect(isTicket(cb.admit({ multiplexed: true }))).toBe(true);
  });

  test("maxRetries bounds retries in flight; first tries are not retries", () => {
    const cb = new CircuitBreaker(connectionPool({ maxRetries: 1 }));
    const r = cb.admit({ retry: true }) as Ticket;
    expect(cb.admit({ retry: true })).toBe("max-retries");
    expect(isTicket(cb.admit())).toBe(true);
    r.release();
    expect(isTicket(cb.admit({ retry: true }))).toBe(true);
  });

  test("new limits apply to the next admission and free waiting requests", async () => {
    const cb = new CircuitBreaker(connectionPool({ maxConnections: 1 }));
    cb.admit();
    const w = cb.admit() as Ticket;
    expect(await settled(w.ready)).toBe(false);
    cb.setLimits(connectionPool({ maxConnections: 2 }));
    expect(await settled(w.ready)).toBe(true);
  });
});
