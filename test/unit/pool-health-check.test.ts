// Active health checks against real loopback servers: an HTTP server that starts failing, a
// TCP port that closes, a server that stalls; Envoy's thresholds; the pool's view of it all.
import { afterEach, describe, expect, test } from "bun:test";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { HealthCheckState, probe } from "../../src/upstream/pool/health-check.ts";
import { Pool } from "../../src/upstream/pool/pool.ts";
import { healthCheck, poolSpec } from "../../src/upstream/pool/types.ts";
import { freePort } from "../helpers/net.ts";

const toClose: { close(): void }[] = [];
afterEach(() => {
  for (const c of toClose.splice(0)) c.close();
});

/** An HTTP server whose status (or stall) the test sets; counts the checks it got. */
async function statusServer() {
  const state = { status: 200, stall: false, hits: 0, hosts: [] as string[] };
  const server: Server = createHttpServer((req, res) => {
    state.hits++;
    state.hosts.push(req.headers.host ?? "");
    if (state.stall) return;
    res.writeHead(state.status).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  toClose.push({ close: () => server.close() && server.closeAllConnections() });
  return { state, port: (server.address() as { port: number }).port };
}

async function tcpServer() {
  const server: TcpServer = createTcpServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

/** Polls `cond` every 10 ms for at most `ms`. */
async function until(cond: () => boolean, ms = 2_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

describe("probe", () => {
  test("http: the expected statuses pass, others fail as a non-network failure", async () => {
    const { state, port } = await statusServer();
    const spec = healthCheck({ path: "/healthz", timeoutMs: 500 });
    expect(await probe({ address: "127.0.0.1", port }, spec, "svc")).toEqual({ ok: true });
    expect(state.hosts).toEqual(["svc"]); // Envoy sends the cluster name as Host
    state.status = 503;
    expect(await probe({ address: "127.0.0.1", port }, spec, "svc")).toEqual({
      ok: false,
      network: false,
      reason: "status 503",
    });
    const only204 = healthCheck({ expectedStatuses: [[204, 204]], timeoutMs: 500 });
    state.status = 200;
    expect((await probe({ address: "127.0.0.1", port }, only204, "svc")).ok).toBe(false);
  });

  test("http: a stalled server fails by timeout, a closed port by connection refused", async () => {
    const { state, port } = await statusServer();
    state.stall = true;
    const spec = healthCheck({ timeoutMs: 100 });
    const t0 = Date.now();
    expect(await probe({ address: "127.0.0.1", port }, spec, "svc")).toEqual({
      ok: false,
      network: true,
      reason: "timeout",
    });
    expect(Date.now() - t0).toBeLessThan(1_000);
    const closed = await freePort();
    const r = await probe({ address: "127.0.0.1", port: closed }, spec, "svc");
    expect(r).toMatchObject({ ok: false, network: true, reason: "ECONNREFUSED" });
  });

  test("tcp: a listening port passes, a closed one fails", async () => {
    const { server, port } = await tcpServer();
    const spec = healthCheck({ kind: "tcp", timeoutMs: 500 });
    expect(await probe({ address: "127.0.0.1", port }, spec, "svc")).toEqual({ ok: true });
    await new Promise((r) => server.close(r));
    expect((await probe({ address: "127.0.0.1", port }, spec, "svc")).ok).toBe(false);
  });
});

describe("HealthCheckState (Envoy's thresholds)", () => {
  const spec = healthCheck({ healthyThreshold: 2, unhealthyThreshold: 3 });
  const pass = { ok: true } as const;
  const net = { ok: false, network: true, reason: "timeout" } as const;
  const bad = { ok: false, network: false, reason: "status 500" } as const;

  test("starts unhealthy; one pass at startup is enough", () => {
    const s = new HealthCheckState();
    expect(s.healthy).toBe(false);
    expect(s.record(pass, spec)).toBe(true);
    expect(s.healthy).toBe(true);
  });

  test("network failures need unhealthyThreshold in a row; a bad status is at once", () => {
    const s = new HealthCheckState();
    s.record(pass, spec);
    s.record(net, spec);
    s.record(net, spec);
    s.record(pass, spec);
    s.record(net, spec);
    s.record(net, spec);
    expect(s.healthy).toBe(true);
    s.record(net, spec);
    expect(s.healthy).toBe(false);
    s.record(pass, spec);
    expect(s.healthy).toBe(false); // after startup: healthyThreshold passes
    s.record(pass, spec);
    expect(s.healthy).toBe(true);
    s.record(bad, spec);
    expect(s.healthy).toBe(false);
    expect(s.lastReason).toBe("status 500");
  });
});

describe("in a Pool, on real servers", () => {
  test("an endpoint whose check starts failing stops taking picks, and comes back", async () => {
    const a = await statusServer();
    const b = await statusServer();
    const pool = new Pool(
      poolSpec({
        service: "svc",
        loadBalancer: { kind: "ROUND_ROBIN" },
        endpoints: [a, b].map((s) => ({ address: "127.0.0.1", port: s.port, weight: 1, labels: {} })),
        healthCheck: healthCheck({
          intervalMs: 20,
          timeoutMs: 200,
          healthyThreshold: 2,
          unhealthyThreshold: 2,
        }),
      }),
    );
    toClose.push(pool);
    // Before any check has passed nothing is picked (Envoy starts hosts unhealthy).
    expect(pool.pick()).toBeUndefined();
    expect(await until(() => pool.snapshot().endpoints.every((e) => e.activeCheck === "passing"))).toBe(true);
    const [ea, eb] = pool.all();
    a.state.status = 500;
    expect(await until(() => pool.snapshot().endpoints[0]!.health === "failing-check")).toBe(true);
    expect(pool.snapshot().endpoints[0]!.lastCheckFailure).toBe("status 500");
    for (let i = 0; i < 10; i++) expect(pool.pick()).toBe(eb);
    a.state.status = 200;
    expect(await until(() => pool.snapshot().endpoints[0]!.health === "healthy")).toBe(true);
    expect(new Set([pool.pick(), pool.pick()])).toEqual(new Set([ea, eb]));
  });

  test("a stalled endpoint is taken out after unhealthyThreshold timeouts", async () => {
    const a = await statusServer();
    const b = await statusServer();
    const pool = new Pool(
      poolSpec({
        service: "svc",
        endpoints: [a, b].map((s) => ({ address: "127.0.0.1", port: s.port, weight: 1, labels: {} })),
        healthCheck: healthCheck({ intervalMs: 20, timeoutMs: 50, unhealthyThreshold: 2 }),
      }),
    );
    toClose.push(pool);
    expect(await until(() => pool.snapshot().endpoints.every((e) => e.activeCheck === "passing"))).toBe(true);
    a.state.stall = true;
    expect(await until(() => pool.snapshot().endpoints[0]!.activeCheck === "failing")).toBe(true);
    expect(pool.snapshot().endpoints[0]!.lastCheckFailure).toBe("timeout");
    expect(pool.pick()?.port).toBe(b.port);
  });

  test("tcp: a port that closes is taken out", async () => {
    const t = await tcpServer();
    const pool = new Pool(
      poolSpec({
        service: "svc",
        endpoints: [{ address: "127.0.0.1", port: t.port, weight: 1, labels: {} }],
        healthCheck: healthCheck({ kind: "tcp", intervalMs: 20, timeoutMs: 200, unhealthyThreshold: 1 }),
      }),
    );
    toClose.push(pool);
    expect(await until(() => pool.pick() !== undefined)).toBe(true);
    await new Promise((r) => t.server.close(r));
    expect(await until(() => pool.pick() === undefined)).toBe(true);
  });

  test("close() stops the checks", async () => {
    const a = await statusServer();
    const pool = new Pool(
      poolSpec({
        service: "svc",
        endpoints: [{ address: "127.0.0.1", port: a.port, weight: 1, labels: {} }],
        healthCheck: healthCheck({ intervalMs: 10, timeoutMs: 200 }),
      }),
    );
    expect(await until(() => a.state.hits >= 2)).toBe(true);
    pool.close();
    await new Promise((r) => setTimeout(r, 30));
    const hits = a.state.hits;
    await new Promise((r) => setTimeout(r, 80));
    expect(a.state.hits).toBe(hits);
  });
});
