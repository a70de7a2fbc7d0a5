// The config fuzzer's loop, shared by the unit test (fixed seed, few cases) and `npm run fuzz`
// (scripts/fuzz-config.ts, long runs): case `i` of seed `s` is always the same input, so a
// finding is reproduced from the two numbers alone.
import { seededRandom } from "../helpers/seeded-random.ts";
import { loadCorpus, type Seed } from "./corpus.ts";
import { mutate, type CaseFile } from "./mutate.ts";
import type { Runtime } from "../../scripts/runtimes.ts";
import { checkCli } from "./cli-check.ts";
import { caseFolder, judge, writeCase, type Verdict } from "./oracle.ts";

export interface FuzzOptions {
  seed: number;
  /** Stop after this many cases… */
  cases: number;
  /** …or after this many seconds, whichever comes first. */
  seconds?: number;
  /** A case that takes longer is a finding (default 2000). */
  boundMs?: number;
  /** A case that grows the resident set by more is a finding (default 256 MiB, plus 100 bytes per byte of input). */
  rssBoundBytes?: number;
  /** Cases to skip (resuming, or reproducing one case: first = n, cases = 1). */
  first?: number;
  onFinding?: (f: Finding) => void;
  /** Before each case: a watchdog in another process can name the case that never ended. */
  onStart?: (index: number) => void;
  /** Every n-th case is also run through `portico validate` as a child process (0: none). */
  cliEvery?: number;
  cliRuntime?: Runtime;
  onProgress?: (s: FuzzSummary) => void;
  /** Cases between two onProgress calls (default 500). */
  progressEvery?: number;
}

export interface Finding {
  seed: number;
  index: number;
  corpusEntry: string;
  mutations: string[];
  finding: string;
  files: CaseFile[];
}

export interface FuzzSummary {
  cases: number;
  plans: number;
  configErrors: number;
  findings: number;
  /** Cases also run through `portico validate` as a child process. */
  cliCases: number;
  seconds: number;
  slowestMs: number;
  rssStart: number;
  rssMax: number;
  rssEnd: number;
  /** The case that grew the resident set most, by how much, and its input's size. */
  rssWorst: { index: number; grewBy: number; bytes: number };
}

/** The random source of case `index` of run `seed`. */
export function caseRandom(seed: number, index: number): () => number {
  return seededRandom((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

/** Case `index` of run `seed`: which corpus entry, and its files mutated. */
export function makeCase(corpus: Seed[], seed: number, index: number) {
  const rng = caseRandom(seed, index);
  const entry = corpus[Math.floor(rng() * corpus.length)]!;
  const other = corpus[Math.floor(rng() * corpus.length)]!;
  const otherText = other.files[Math.floor(rng() * other.files.length)]!.text;
  const count = 1 + Math.floor(rng() * 4);
  return { entry, ...mutate(rng, entry.files, otherText, count) };
}

/** A summary with nothing counted yet (one run's, or the total of several). */
export function emptySummary(rssStart = 0): FuzzSummary {
  return {
    cases: 0,
    plans: 0,
    configErrors: 0,
    findings: 0,
    cliCases: 0,
    seconds: 0,
    slowestMs: 0,
    rssStart,
    rssMax: 0,
    rssEnd: 0,
    rssWorst: { index: -1, grewBy: 0, bytes: 0 },
  };
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const corpus = loadCorpus();
  const folder = caseFolder();
  const boundMs = opts.boundMs ?? 2000;
  const rssBound = opts.rssBoundBytes ?? 256 * 1024 * 1024;
  const started = performance.now();
  const deadline = opts.seconds === undefined ? Number.POSITIVE_INFINITY : started + opts.seconds * 1000;
  const s = emptySummary(process.memoryUsage.rss());
  try {
    const first = opts.first ?? 0;
    for (let i = first; i < first + opts.cases && performance.now() < deadline; i++) {
      opts.onStart?.(i);
      const c = makeCase(corpus, opts.seed, i);
      const paths = writeCase(folder.dir, c.files);
      const rssBefore = process.memoryUsage.rss();
      // The yaml package holds about 100 bytes per byte of input while it parses.
      const bytes = c.files.reduce((n, f) => n + f.bytes.length, 0);
      let v: Verdict = await judge(c.entry, folder.dir, paths, boundMs);
      const rss = process.memoryUsage.rss();
      if (v.outcome !== "finding" && rss - rssBefore > rssBound + bytes * 100)
        v = {
          ...v,
          outcome: "finding",
          finding: `grew the resident set by ${((rss - rssBefore) / 2 ** 20).toFixed(0)} MiB`,
        };
      if (v.outcome !== "finding" && opts.cliEvery && i % opts.cliEvery === 0) {
        s.cliCases++;
        const wrong = checkCli(opts.cliRuntime ?? "bun", c.entry, folder.dir, paths, v.outcome === "plan");
        if (wrong) v = { ...v, outcome: "finding", finding: wrong };
      }
      s.cases++;
      s.slowestMs = Math.max(s.slowestMs, v.ms);
      s.rssMax = Math.max(s.rssMax, rss);
      if (rss - rssBefore > s.rssWorst.grewBy) s.rssWorst = { index: i, grewBy: rss - rssBefore, bytes };
      if (v.outcome === "plan") s.plans++;
      else if (v.outcome === "config-error") s.configErrors++;
      else {
        s.findings++;
        opts.onFinding?.({
          seed: opts.seed,
          index: i,
          corpusEntry: c.entry.files.map((f) => f.name).join(" + "),
          mutations: c.mutations,
          finding: v.finding ?? "",
          files: c.files,
        });
      }
      if (s.cases % (opts.progressEvery ?? 500) === 0)
        opts.onProgress?.({ ...s, seconds: (performance.now() - started) / 1000 });
    }
  } finally {
    folder.remove();
  }
  s.seconds = (performance.now() - started) / 1000;
  s.rssEnd = process.memoryUsage.rss();
  return s;
}
