// The Reloader: one reload at a time, requests made while one waits to start share it, a refused
// config changes nothing, the result is what the log printed.
import { describe, expect, test } from "bun:test";
import type { Config } from "../../src/config/model.ts";
import type { ApplyReport } from "../../src/gateway/start-gateway.ts";
import type { Plan } from "../../src/provision/plan.ts";
import { Reloader, type ReloadResult } from "../../src/cli/reload.ts";
import { ConfigError } from "../../src/util/errors.ts";
import { FileReads } from "../../src/util/file-reads.ts";
import { sleep } from "../helpers/net.ts";

const plan = (n: number) => ({ n }) as unknown as Plan;
const config = (n: number) => ({ n }) as unknown as Config;
const EMPTY: ApplyReport = { updated: ["web"], restarted: [], started: [], stopped: [], failed: [] };

function reloader(load: (n: number) => Promise<void>) {
  let n = 1;
  const seen: ReloadResult[] = [];
  const r = new Reloader({
    initial: { config: config(1), plan: plan(1), reads: new FileReads() },
    load: async () => {
      const mine = ++n;
      await load(mine);
      return { config: config(mine), plan: plan(mine) };
    },
    apply: async () => EMPTY,
    listenerLines: () => [],
    what: "routes.yaml",
  });
  r.onReloaded((x) => seen.push(x));
  return { r, seen };
}

describe("Reloader", () => {
  test("reloads asked for while one runs wait for it, then one reload answers them all", async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const { r, seen } = reloader(async () => {
      runs++;
      most = Math.max(most, ++running);
      await sleep(20);
      running--;
    });
    const first = r.reload("signal");
    await sleep(5); // the first has started: it read the disk before the requests below
    const later = [
      r.reload("watch", "/x.yaml"),
      r.reload("api"),
      r.reload("acme", "c1"),
      r.reload("acme", "c1"),
    ];
    const results = await Promise.all([first, ...later]);
    expect(most).toBe(1);
    expect(runs).toBe(2);
    expect(seen).toHaveLength(2);
    expect(results[0]!.trigger).toBe("signal");
    // The four later requests share one result: the reload that started after all of them.
    for (const x of results.slice(2)) expect(x).toBe(results[1]!);
    expect(results[1]!.trigger).toBe("watch");
    expect(results[1]!.lines[0]).toBe(
      "file change, POST /reload, ACME certificate (4 requests): reloading routes.yaml (/x.yaml, c1 changed)",
    );
    expect(r.generation).toBe(3);
    expect((r.current.plan as unknown as { n: number }).n).toBe(3);
  });

  test("a request made after the queued reload started queues another", async () => {
    let runs = 0;
    const { r } = reloader(async () => {
      runs++;
      await sleep(20);
    });
    const a = r.reload("signal");
    await sleep(5);
    const b = r.reload("signal");
    await sleep(30); // a has ended, b is running
    const c = r.reload("api");
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect(runs).toBe(3);
    expect(new Set([ra, rb, rc]).size).toBe(3);
    expect(rc!.lines[0]).toBe("POST /reload: reloading routes.yaml");
  });

  test("the first line names at most five causes", async () => {
    const { r } = reloader(async () => {
      await sleep(20);
    });
    const first = r.reload("signal");
    await sleep(5);
    const joined = Array.from({ length: 8 }, (_, i) => r.reload("acme", `c${i}`));
    await first;
    const result = await joined[0]!;
    expect(result.lines[0]).toBe(
      "ACME certificate (8 requests): reloading routes.yaml (c0, c1, c2, c3, c4 and 3 more changed)",
    );
  });

  test("a refused config keeps the current one; the result carries the formatted issues", async () => {
    const { r, seen } = reloader(async () => {
      throw new ConfigError([
        { file: "routes.yaml", line: 3, path: "listeners[0].port", message: "bad", severity: "error" },
      ]);
    });
    const result = await r.reload("api");
    expect(result).toEqual({
      ok: false,
      trigger: "api",
      error: "routes.yaml:3: listeners[0].port: bad",
      lines: [
        "POST /reload: reloading routes.yaml",
        "reload refused, still serving the previous configuration: routes.yaml:3: listeners[0].port: bad",
      ],
    });
    expect(r.generation).toBe(1);
    expect((r.current.plan as unknown as { n: number }).n).toBe(1);
    expect(seen).toEqual([result]);
  });

  test("an applied config: the report and the lines the log printed", async () => {
    const { r } = reloader(async () => {});
    const result = await r.reload("signal");
    expect(result.ok).toBe(true);
    expect(result.report).toEqual({
      updated: ["web"],
      restarted: [],
      started: [],
      stopped: [],
      failed: [],
      ms: expect.any(Number),
    });
    expect(result.lines).toEqual([
      "SIGHUP: reloading routes.yaml",
      `reloaded: 1 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed; ${result.report!.ms} ms`,
    ]);
  });
});
