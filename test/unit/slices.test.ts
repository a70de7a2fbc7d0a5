// Long work in slices: a timer set before it runs before it ends (a reload under traffic answers
// requests meanwhile), and the result is the one the work gives at once.
import { describe, expect, test } from "bun:test";
import { composeConfig, composeConfigSliced } from "../../src/config/sources/compose.ts";
import { runAtOnce, runSliced, type Steps } from "../../src/util/slices.ts";

/** Whether a timer set now fires before `work` settles. */
async function timerFiresDuring(work: () => Promise<unknown>): Promise<boolean> {
  let fired = false;
  const t = setTimeout(() => {
    fired = true;
  }, 0);
  await work();
  clearTimeout(t);
  return fired;
}

describe("slices", () => {
  test("runSliced lets a timer run during a generator that takes longer than a slice", async () => {
    function* busy(ms: number): Steps<number> {
      const end = performance.now() + ms;
      let n = 0;
      while (performance.now() < end) {
        n++;
        yield;
      }
      return n;
    }
    expect(await timerFiresDuring(() => runSliced(busy(30)))).toBe(true);
    // The same steps run at once hold the timer back.
    expect(await timerFiresDuring(async () => runAtOnce(busy(30)))).toBe(false);
  });

  test("a large routes.yaml composed in slices: the same Config, and a timer ran meanwhile", async () => {
    const n = 1000;
    const lines = ["listeners:", "  - { port: 8443, protocol: HTTPS, servers: ["];
    for (let i = 0; i < n; i++) lines.push(`      { hosts: [h${i}.test], tls: { credential: c${i} } },`);
    lines.push("    ] }", "credentials:");
    for (let i = 0; i < n; i++) lines.push(`  c${i}: { cert: /c/${i}.crt, key: /c/${i}.key }`);
    const texts = [{ file: "/r/routes.yaml", text: `${lines.join("\n")}\n` }];
    let sliced: unknown;
    expect(
      await timerFiresDuring(async () => {
        sliced = await composeConfigSliced(["/r/routes.yaml"], texts);
      }),
    ).toBe(true);
    expect(sliced).toEqual(composeConfig(["/r/routes.yaml"], texts));
  });
});
