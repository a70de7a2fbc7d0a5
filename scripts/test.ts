// `npm test`: unit tests once, the end-to-end suite once per runtime (Portico started under
// Bun, Deno and Node), the compiled-binary smoke test once. Prints one closing line
// "N passed, N failed" and exits non-zero when anything failed.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const bun = process.execPath;
const only = process.env.PORTICO_RUNTIMES?.split(",") ?? ["bun", "deno", "node"];

interface Run {
  name: string;
  args: string[];
  env?: Record<string, string>;
}

const runs: Run[] = [{ name: "unit", args: ["test", "test/unit"] }];
for (const runtime of only) runs.push({ name: `e2e on ${runtime}`, args: ["test", "test/e2e"], env: { PORTICO_RUNTIME: runtime } });
if (existsSync("test/binary")) runs.push({ name: "binary", args: ["test", "test/binary"] });

let passed = 0;
let failed = 0;
const summary: string[] = [];

// The type check counts as one test: the code the tests run must also be the code that compiles.
{
  process.stderr.write("\n=== typecheck: tsc --noEmit\n");
  const tsc = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit", "-p", "."], { stdio: ["ignore", "inherit", "inherit"], timeout: 300_000 });
  if (tsc.status === 0) passed++;
  else failed++;
  summary.push(`typecheck    ${tsc.status === 0 ? "1 passed, 0 failed" : `0 passed, 1 failed (exit ${tsc.status ?? tsc.signal})`}`);
}
for (const run of runs) {
  process.stderr.write(`\n=== ${run.name}: bun ${run.args.join(" ")}\n`);
  const r = spawnSync(bun, run.args, { env: { ...process.env, ...run.env }, stdio: ["ignore", "inherit", "pipe"], encoding: "utf8", timeout: 900_000 });
  process.stderr.write(r.stderr ?? "");
  const pass = Number(/^\s*(\d+) pass$/m.exec(r.stderr ?? "")?.[1] ?? 0);
  const fail = Number(/^\s*(\d+) fail$/m.exec(r.stderr ?? "")?.[1] ?? 0);
  // A run that crashed or timed out counts as one failure even if it printed no count.
  const extra = r.status !== 0 && fail === 0 ? 1 : 0;
  passed += pass;
  failed += fail + extra;
  summary.push(`${run.name.padEnd(12)} ${pass} passed, ${fail + extra} failed${r.status !== 0 ? ` (exit ${r.status ?? r.signal})` : ""}`);
}
process.stderr.write(`\n${summary.join("\n")}\n`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
