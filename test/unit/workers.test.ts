// `--workers` and `--log-format` on the command line, the supervisor's metrics aggregation, and
// which sockets workers share.
import { afterEach, describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { aggregateMetrics, type WorkerMetrics } from "../../src/admin/metrics-routes.ts";
import { parseArgs } from "../../src/cli/args.ts";
import { CONTROL_TOKEN_ENV, CONTROL_URL_ENV, WORKER_ENV } from "../../src/cli/control.ts";
import { supervise, type SupervisorDeps } from "../../src/cli/workers.ts";
import type { Plan } from "../../src/provision/plan.ts";
import { bunReusePort, netSharing } from "../../src/listeners/_shared/port-sharing.ts";
import { UsageError } from "../../src/util/errors.ts";

describe("--workers", () => {
  test("default 1: one process, as before", () => {
    expect(parseArgs(["run"]).workers).toBe(1);
  });
  test("a number, or auto: the available cores", () => {
    expect(parseArgs(["run", "--workers", "2"]).workers).toBe(2);
    expect(parseArgs(["run", "--workers=auto"]).workers).toBe(availableParallelism());
  });
  test("anything else is a usage error", () => {
    for (const v of ["0", "1025", "two", "-1", "1.5", ""]) {
      expect(() => parseArgs(["run", "--workers", v])).toThrow(
        new UsageError(`--workers expects a number of processes (1 to 1024) or auto, got "${v}"`),
      );
    }
    expect(() => parseArgs(["run", "--workers"])).toThrow(UsageError);
  });
});

describe("--log-format", () => {
  test("text (default) or json", () => {
    expect(parseArgs(["run"]).logFormat).toBe("text");
    expect(parseArgs(["run", "--log-format", "json"]).logFormat).toBe("json");
    expect(() => parseArgs(["run", "--log-format", "yaml"])).toThrow("--log-format must be text or json");
  });
});

/** One worker's registry after `requests` requests, as its /metrics?format=json serves it. */
async function workerMetrics(requests: number, seconds: number[], expiry: number): Promise<WorkerMetrics> {
  const registry = new Registry();
  const counter = new Counter({
    name: "t_requests_total",
    help: "requests",
    labelNames: ["listener"],
    registers: [registry],
  });
  const histogram = new Histogram({
    name: "t_duration_seconds",
    help: "duration",
    buckets: [0.1, 1],
    registers: [registry],
  });
  const gauge = new Gauge({ name: "t_expiry", help: "expiry", aggregator: "max", registers: [registry] });
  counter.inc({ listener: "web" }, requests);
  for (const s of seconds) histogram.observe(s);
  gauge.set(expiry);
  return (await registry.getMetricsAsJSON()) as WorkerMetrics;
}

describe("aggregateMetrics", () => {
  test("counters and histogram buckets are summed over workers; a gauge follows its aggregator", async () => {
    const text = await aggregateMetrics([
      await workerMetrics(3, [0.05, 0.5], 100),
      await workerMetrics(4, [0.05, 2], 200),
    ]);
    expect(text).toContain('t_requests_total{listener="web"} 7\n');
    expect(text).toContain('t_duration_seconds_bucket{le="0.1"} 2\n');
    expect(text).toContain('t_duration_seconds_bucket{le="1"} 3\n');
    expect(text).toContain('t_duration_seconds_bucket{le="+Inf"} 4\n');
    expect(text).toContain("t_duration_seconds_count 4\n");
    expect(text).toContain("t_expiry 200\n");
  });
});

describe("port sharing", () => {
  const saved = process.env.PORTICO_WORKER;
  afterEach(() => {
    if (saved === undefined) delete process.env.PORTICO_WORKER;
    else process.env.PORTICO_WORKER = saved;
  });
  test("outside workers nothing is shared, so a taken port stays an error", () => {
    delete process.env.PORTICO_WORKER;
    expect(netSharing(8080)).toEqual({});
    expect(bunReusePort(8080)).toBe(false);
  });
  test("in a worker a listener's port is shared and an ephemeral one is private", () => {
    process.env.PORTICO_WORKER = "1";
    // These tests run on Bun: SO_REUSEPORT, bound by the worker itself.
    expect(netSharing(8080)).toEqual({ reusePort: true, exclusive: true });
    expect(bunReusePort(8080)).toBe(true);
    expect(netSharing(0)).toEqual({ exclusive: true });
    expect(bunReusePort(0)).toBe(false);
  });
});

describe("the supervisor", () => {
  /** A worker that reports ready over the control channel, then exits with `code` after `ms`. */
  const flaky = (code: number, ms: number, started: number[]) => (env: Record<string, string>) => {
    started.push(Date.now());
    const exited = (async () => {
      const res = await fetch(env[CONTROL_URL_ENV]!, {
        method: "POST",
        headers: { authorization: `Bearer ${env[CONTROL_TOKEN_ENV]}` },
        body: JSON.stringify({ worker: Number(env[WORKER_ENV]), pid: 1, adminPort: 1, listeners: [] }),
      });
      expect(res.status).toBe(204);
      await new Promise((r) => setTimeout(r, ms));
      return { code, signal: null };
    })();
    return { pid: 1, kill: () => {}, exited };
  };
  const deps = (startWorker: SupervisorDeps["startWorker"]): SupervisorDeps => ({
    count: 1,
    load: async () => ({ plan: {} as Plan, warnings: 0 }),
    fatal: () => 1,
    startAdmin: async () => undefined,
    summary: () => {},
    startWorker,
  });

  test("restarts a crashing worker with a growing backoff, and gives up after 5 quick crashes in a row", async () => {
    const started: number[] = [];
    expect(await supervise(deps(flaky(1, 20, started)))).toBe(1);
    expect(started.length).toBe(6);
    const gaps = started.slice(1).map((t, i) => t - started[i]!);
    // 100, 200, 400, 800, (1600 is not waited: the 6th crash gives up) ms after each crash.
    for (const [i, want] of [100, 200, 400, 800].entries()) expect(gaps[i]!).toBeGreaterThanOrEqual(want);
    expect(gaps[3]!).toBeGreaterThan(gaps[0]! * 4);
  }, 20_000);
});
