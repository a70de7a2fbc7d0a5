// `npm run fuzz`: the config fuzzer (test/fuzz/) for as long as asked. Mutated routes.yaml and
// Istio files go through what `portico validate` runs, in-process; every FUZZ_CLI_EVERY-th case
// also through the real command. Prints the cases run, the findings (each input saved with the
// seed and case number that reproduce it) and the throughput; exits 1 when anything was found.
//
//   FUZZ_SEED=1 FUZZ_CASES=100000 FUZZ_SECONDS=600 npm run fuzz
//   FUZZ_SEED=1 FUZZ_FIRST=4242 FUZZ_CASES=1 npm run fuzz     # case 4242 of seed 1 again
//
// Knobs: FUZZ_SEED (default: the time), FUZZ_CASES (default 1,000,000), FUZZ_SECONDS (default
// 600), FUZZ_FIRST (first case number, default 0), FUZZ_BOUND_MS (per case, default 2000, plus
// 1.5 s per MB of input), FUZZ_CLI_EVERY (default 500; 0 turns it off), FUZZ_RUNTIME (the
// runtime of that command: bun, deno or node), FUZZ_OUT (default fuzz-findings/).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Finding, type FuzzSummary, fuzz } from "../test/fuzz/run.ts";
import { RUNTIMES, type Runtime } from "./runtimes.ts";

const env = (name: string, fallback: number) => {
  const raw = process.env[name];
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got "${raw}"`);
  return n;
};
const seed = env("FUZZ_SEED", Date.now() % 2 ** 31);
const runtime = (process.env.FUZZ_RUNTIME ?? "bun") as Runtime;
if (!RUNTIMES.includes(runtime)) throw new Error(`FUZZ_RUNTIME must be one of ${RUNTIMES.join(", ")}`);
const out = resolve(process.env.FUZZ_OUT ?? "fuzz-findings");
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Saves the case's files and what was wrong; the folder is named by seed and case number. */
function save(f: Finding): string {
  const dir = join(out, `seed-${f.seed}-case-${f.index}`);
  mkdirSync(dir, { recursive: true });
  for (const file of f.files) writeFileSync(join(dir, file.name), file.bytes);
  const reproduce = `FUZZ_SEED=${f.seed} FUZZ_FIRST=${f.index} FUZZ_CASES=1 npm run fuzz`;
  const text = `${f.finding}\n\ncorpus entry: ${f.corpusEntry}\nmutations: ${f.mutations.join(", ")}\nreproduce: ${reproduce}\n`;
  writeFileSync(join(dir, "finding.txt"), text);
  return dir;
}

const line = (s: FuzzSummary) =>
  `${s.cases} cases in ${s.seconds.toFixed(0)} s (${(s.cases / s.seconds).toFixed(0)}/s): ${s.plans} plans, ` +
  `${s.configErrors} config errors, ${s.findings} findings, ${s.cliCases} via the CLI; slowest ` +
  `${s.slowestMs.toFixed(0)} ms; RSS ${mib(s.rssStart)} at start, max ${mib(s.rssMax)}`;

process.stdout.write(`fuzzing the config with seed ${seed}\n`);
const summary = await fuzz({
  seed,
  cases: env("FUZZ_CASES", 1_000_000),
  seconds: env("FUZZ_SECONDS", 600),
  first: env("FUZZ_FIRST", 0),
  boundMs: env("FUZZ_BOUND_MS", 2000),
  cliEvery: env("FUZZ_CLI_EVERY", 500),
  cliRuntime: runtime,
  onFinding: (f) => {
    const dir = save(f);
    process.stdout.write(
      `FINDING seed ${f.seed} case ${f.index} (${dir}):\n  ${f.finding.replace(/\n/g, "\n  ")}\n`,
    );
  },
  onProgress: (s) => process.stdout.write(`${line(s)}\n`),
});
process.stdout.write(`done: ${line(summary)}, ${mib(summary.rssEnd)} at the end\n`);
process.exit(summary.findings > 0 ? 1 : 0);
