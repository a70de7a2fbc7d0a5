// The Reloader: one reload at a time, a refused config changes nothing, the result is what the
// log printed.
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
  test("reloads asked for together run one after another, in order", async () => {
    let running = 0;
    let most = 0;
    const { r } = reloader(async () => {
      most = Math.max(most, ++running);
      await sleep(20);
      running--;
    });
    const results = await Promise.all([r.reload("signal"), r.reload("watch", "/x.yaml"), r.reload("api")]);
    expect(most).toBe(1);
    expect(results.map((x) => x.trigger)).toEqual(["signal", "watch", "api"]);
    expect(results[1]!.lines[0]).toBe("file change: reloading routes.yaml (/x.yaml changed)");
    expect(r.generation).toBe(4);
    expect((r.current.plan as unknown as { n: number }).n).toBe(4);
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
