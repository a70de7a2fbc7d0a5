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
// 1.5 s per MB of input), FUZZ_HANG_SECONDS (a case still running after this long is a hang,
// default 30), FUZZ_CLI_EVERY (default 500; 0 turns it off), FUZZ_RUNTIME (the runtime of that
// command: bun, deno or node), FUZZ_OUT (default fuzz-findings/).
//
// The cases run in a child process and this one watches it: a case that never ends (an endless
// loop cannot be interrupted from inside) is killed, saved as a finding, and the run goes on
// from the next case in a new child.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { loadCorpus } from "../test/fuzz/corpus.ts";
import { emptySummary, type Finding, type FuzzSummary, fuzz, makeCase } from "../test/fuzz/run.ts";
import { RUNTIMES, type Runtime } from "./runtimes.ts";

const env = (name: string, fallback: number) => {
  const raw = process.env[name];
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got "${raw}"`);
  return n;
};
const seed = env("FUZZ_SEED", Date.now() % 2 ** 31);
const cases = env("FUZZ_CASES", 1_000_000);
const seconds = env("FUZZ_SECONDS", 600);
const first = env("FUZZ_FIRST", 0);
const runtime = (process.env.FUZZ_RUNTIME ?? "bun") as Runtime;
if (!RUNTIMES.includes(runtime)) throw new Error(`FUZZ_RUNTIME must be one of ${RUNTIMES.join(", ")}`);

if (process.env.FUZZ_CHILD === "1") {
  // The child: runs the cases, one line per event for the parent.
  const say = (kind: string, data: unknown) => process.stdout.write(`${kind} ${JSON.stringify(data)}\n`);
  const summary = await fuzz({
    seed,
    cases,
    seconds,
    first,
    boundMs: env("FUZZ_BOUND_MS", 2000),
    cliEvery: env("FUZZ_CLI_EVERY", 500),
    cliRuntime: runtime,
    onStart: (i) => say("start", i),
    onFinding: (f) => say("finding", { index: f.index, finding: f.finding }),
    onProgress: (s) => say("progress", s),
    // Often: the counts of a child killed on a hang are the last ones it sent.
    progressEvery: 20,
  });
  say("done", summary);
  process.exit(0);
}

const out = resolve(process.env.FUZZ_OUT ?? "fuzz-findings");
const hangMs = env("FUZZ_HANG_SECONDS", 30) * 1000;
const corpus = loadCorpus();
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Saves case `index` (made again: cases are deterministic) and what was wrong with it. */
function save(index: number, finding: string): string {
  const c = makeCase(corpus, seed, index);
  const f: Finding = {
    seed,
    index,
    finding,
    corpusEntry: c.entry.files.map((x) => x.name).join(" + "),
    mutations: c.mutations,
    files: c.files,
  };
  const dir = join(out, `seed-${f.seed}-case-${f.index}`);
  mkdirSync(dir, { recursive: true });
  for (const file of f.files) writeFileSync(join(dir, file.name), file.bytes);
  const reproduce = `FUZZ_SEED=${f.seed} FUZZ_FIRST=${f.index} FUZZ_CASES=1 npm run fuzz`;
  const text = `${f.finding}\n\ncorpus entry: ${f.corpusEntry}\nmutations: ${f.mutations.join(", ")}\nreproduce: ${reproduce}\n`;
  writeFileSync(join(dir, "finding.txt"), text);
  process.stdout.write(`FINDING seed ${seed} case ${index} (${dir}):\n  ${finding.replace(/\n/g, "\n  ")}\n`);
  return dir;
}

const total: FuzzSummary = emptySummary();
const line = (s: FuzzSummary, secs: number) =>
  `${s.cases} cases in ${secs.toFixed(0)} s (${(s.cases / secs).toFixed(0)}/s): ${s.plans} plans, ` +
  `${s.configErrors} config errors, ${s.findings} findings, ${s.cliCases} via the CLI; slowest ` +
  `${s.slowestMs.toFixed(0)} ms; RSS ${mib(s.rssStart)} at start, max ${mib(s.rssMax)}`;

/** One child from case `from`; resolves with the case it hung on, or undefined when it finished. */
function runChild(from: number, count: number, secs: number): Promise<number | undefined> {
  const child = spawn(process.execPath, [import.meta.filename], {
    env: {
      ...process.env,
      FUZZ_CHILD: "1",
      FUZZ_SEED: String(seed),
      FUZZ_FIRST: String(from),
      FUZZ_CASES: String(count),
      FUZZ_SECONDS: String(secs),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const base = { ...total };
  let current = from;
  let lastStart = Date.now();
  return new Promise((resolvePromise) => {
    const watchdog = setInterval(() => {
      if (Date.now() - lastStart < hangMs) return;
      clearInterval(watchdog);
      child.kill("SIGKILL");
      resolvePromise(current);
    }, 1000);
    const merge = (s: FuzzSummary) => {
      for (const k of ["cases", "plans", "configErrors", "findings", "cliCases"] as const)
        total[k] = base[k] + s[k];
      total.slowestMs = Math.max(base.slowestMs, s.slowestMs);
      total.rssMax = Math.max(base.rssMax, s.rssMax);
      total.rssStart ||= s.rssStart;
      total.rssEnd = s.rssEnd;
      if (s.rssWorst.grewBy > total.rssWorst.grewBy) total.rssWorst = s.rssWorst;
    };
    createInterface({ input: child.stdout! }).on("line", (text) => {
      const space = text.indexOf(" ");
      const [kind, data] = [text.slice(0, space), JSON.parse(text.slice(space + 1))];
      if (kind === "start") {
        current = data;
        lastStart = Date.now();
      } else if (kind === "finding") save(data.index, data.finding);
      else if (kind === "progress" || kind === "done") {
        const before = total.cases;
        merge(data);
        if (kind === "progress" && Math.floor(total.cases / 500) > Math.floor(before / 500))
          process.stdout.write(`${line(total, (performance.now() - started) / 1000)}\n`);
      }
    });
    child.on("exit", () => {
      clearInterval(watchdog);
      resolvePromise(undefined);
    });
  });
}

process.stdout.write(`fuzzing the config with seed ${seed}\n`);
const started = performance.now();
let from = first;
for (;;) {
  const left = seconds - (performance.now() - started) / 1000;
  const hung = await runChild(from, first + cases - from, Math.max(0, left));
  if (hung === undefined) break;
  total.cases++;
  total.findings++;
  save(hung, `still running after ${hangMs / 1000} s: killed`);
  from = hung + 1;
  if (from >= first + cases || left <= hangMs / 1000) break;
}
const secs = (performance.now() - started) / 1000;
const worst = total.rssWorst;
process.stdout.write(
  `done: ${line(total, secs)}, ${mib(total.rssEnd)} at the end; case ${worst.index} grew it most: ` +
    `by ${mib(worst.grewBy)}, on ${(worst.bytes / 1e6).toFixed(1)} MB of input\n`,
);
process.exit(total.findings > 0 ? 1 : 0);
