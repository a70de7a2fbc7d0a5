// `npm test`: unit tests once, the end-to-end suite once per runtime (Portico started under
// Bun, Deno and Node), the compiled-binary smoke test once. Prints one closing line
// "N passed, N failed" and exits non-zero when anything failed.
//
// PORTICO_RUNTIMES=bun,node runs the end-to-end suite on those runtimes only, for a quick look
// on a workstation. Under CI (CI set and not "false") it must name every runtime: a CI run that
// quietly dropped Deno would be green for the wrong reason. A run that executed no test at all
// (a filter that matched nothing, a file that failed to load) counts as a failure.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { RUNTIMES } from "./runtimes.ts";

const bun = process.execPath;
const ci = process.env.CI !== undefined && !["", "0", "false"].includes(process.env.CI.toLowerCase());

function chosenRuntimes(): string[] {
  const raw = process.env.PORTICO_RUNTIMES;
  if (raw === undefined) return [...RUNTIMES];
  const names = [
    ...new Set(
      raw
        .split(",")
        .map((n) => n.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = names.filter((n) => !(RUNTIMES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    process.stderr.write(`PORTICO_RUNTIMES must be a comma-separated subset of ${RUNTIMES}, got "${raw}"\n`);
    process.exit(2);
  }
  const dropped = RUNTIMES.filter((r) => !names.includes(r));
  if (dropped.length > 0 && ci) {
    process.stderr.write(
      `\n!!! CI is set, and PORTICO_RUNTIMES="${raw}" leaves out ${dropped.join(", ")}.\n` +
        `!!! CI runs the end-to-end suite on every runtime (${RUNTIMES.join(", ")}): unset it.\n`,
    );
    process.exit(2);
  }
  return names;
}

const only = chosenRuntimes();
const dropped = RUNTIMES.filter((r) => !only.includes(r));

interface Run {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** The whole run may be skipped by its own tests (the binary off linux-x64). */
  maySkip?: boolean;
}

const runs: Run[] = [{ name: "unit", args: ["test", "test/unit"] }];
for (const runtime of only)
  runs.push({ name: `e2e on ${runtime}`, args: ["test", "test/e2e"], env: { PORTICO_RUNTIME: runtime } });
if (existsSync("test/binary")) runs.push({ name: "binary", args: ["test", "test/binary"], maySkip: true });

let passed = 0;
let failed = 0;
const summary: string[] = [];

// The static checks count as one test each: the code the tests run must also be the code that
// compiles, and the code as the formatter (Biome, biome.json) writes it.
const checks: { name: string; args: string[] }[] = [
  { name: "typecheck", args: ["node_modules/typescript/bin/tsc", "--noEmit", "-p", "."] },
  { name: "format", args: ["node_modules/@biomejs/biome/bin/biome", "format", "."] },
];
for (const check of checks) {
  process.stderr.write(`\n=== ${check.name}: ${check.args.join(" ")}\n`);
  const r = spawnSync(process.execPath, check.args, {
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 300_000,
  });
  if (r.status === 0) passed++;
  else failed++;
  const outcome = r.status === 0 ? "1 passed, 0 failed" : `0 passed, 1 failed (exit ${r.status ?? r.signal})`;
  summary.push(`${check.name.padEnd(12)} ${outcome}`);
}
for (const run of runs) {
  process.stderr.write(`\n=== ${run.name}: bun ${run.args.join(" ")}\n`);
  const r = spawnSync(bun, run.args, {
    env: { ...process.env, ...run.env },
    stdio: ["ignore", "inherit", "pipe"],
    encoding: "utf8",
    timeout: 900_000,
  });
  process.stderr.write(r.stderr ?? "");
  const count = (word: string) =>
    Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(r.stderr ?? "")?.[1] ?? 0);
  const pass = count("pass");
  const fail = count("fail");
  const skip = count("skip");
  // A run that crashed or timed out counts as one failure even if it printed no count; so does
  // a run that executed nothing, unless its tests skipped themselves on purpose.
  const empty = pass + fail === 0 && !(run.maySkip && skip > 0);
  const extra = (r.status !== 0 && fail === 0) || empty ? 1 : 0;
  passed += pass;
  failed += fail + extra;
  const notes = [
    r.status !== 0 ? `exit ${r.status ?? r.signal}` : "",
    empty ? "NO TESTS RAN" : "",
    skip > 0 ? `${skip} skipped` : "",
  ].filter(Boolean);
  const why = notes.length ? ` (${notes.join(", ")})` : "";
  summary.push(`${run.name.padEnd(12)} ${pass} passed, ${fail + extra} failed${why}`);
}
const notRun = dropped.length > 0 ? ` (e2e not run on ${dropped.join(", ")})` : "";
if (notRun) summary.push(`!!! e2e NOT run on ${dropped.join(", ")} (PORTICO_RUNTIMES)`);
process.stderr.write(`\n${summary.join("\n")}\n`);
console.log(`${passed} passed, ${failed} failed${notRun}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
