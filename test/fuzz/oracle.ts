// The config fuzzer's oracle: one case through what `portico validate` runs in-process (read the
// -c files, compose, provision: src/cli/main.ts `load`), judged. A case passes when it yields a
// plan, or a ConfigError whose every issue names one of the case's files and a line or field
// in it (or a PorticoError whose message names a file), within the time bound (2 s, plus 1.5 s
// per MB of input). Anything else (a
// TypeError, a RangeError from a stack overflow, a bare Error, a slow case) is a finding.
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSources } from "../../src/cli/config-files.ts";
import { provision } from "../../src/provision/provision.ts";
import { ConfigError, PorticoError, formatIssue, type ConfigIssue } from "../../src/util/errors.ts";
import { ROOT, type Seed } from "./corpus.ts";
import type { CaseFile } from "./mutate.ts";

export interface Verdict {
  outcome: "plan" | "config-error" | "finding";
  /** Why a finding is one: the exception or the broken rule. */
  finding?: string;
  ms: number;
}

/** A folder the cases are written into, with `certs` beside them as the seeds expect. */
export function caseFolder(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "portico-fuzz-"));
  symlinkSync(join(ROOT, "certs"), join(dir, "certs"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes the case's files; their paths, in -c order. */
export function writeCase(dir: string, files: CaseFile[]): string[] {
  return files.map((f) => {
    const path = join(dir, f.name);
    writeFileSync(path, f.bytes);
    return path;
  });
}

/** What is wrong with an issue of a refused case, if anything. */
function vagueIssue(issue: ConfigIssue, paths: string[]): string | undefined {
  if (!paths.includes(issue.file) && issue.file !== "--service")
    return `names no case file: ${formatIssue(issue)}`;
  if (issue.line <= 0 && issue.path === "") return `names no line or field: ${formatIssue(issue)}`;
  if (typeof issue.message !== "string" || issue.message.trim() === "") return "an empty message";
  return undefined;
}

/** The case in `dir` (its files at `paths`), as `portico validate` with the seed's flags sees it. */
export async function judge(seed: Seed, dir: string, paths: string[], boundMs: number): Promise<Verdict> {
  const started = performance.now();
  // The time allowed grows with the input: the yaml package parses about 1 MB a second here.
  const bytes = paths.reduce((n, p) => n + statSync(p).size, 0);
  boundMs += (bytes / 1e6) * 1500;
  const verdict = (outcome: Verdict["outcome"], finding?: string): Verdict => {
    const ms = performance.now() - started;
    if (ms > boundMs && outcome !== "finding")
      return { outcome: "finding", finding: `took ${ms.toFixed(0)} ms`, ms };
    return { outcome, ...(finding ? { finding } : {}), ms };
  };
  try {
    const warnings: ConfigIssue[] = [];
    const config = await loadSources(paths, {
      services: seed.services,
      portMap: seed.portMap,
      credentialDirs: seed.credentialDirs.map((d) => join(dir, d)),
      warn: (w) => warnings.push(w),
    });
    const { warnings: later } = await provision(config, {});
    // The CLI prints every warning: formatting them must not throw either.
    for (const w of [...warnings, ...later]) formatIssue(w);
    return verdict("plan");
  } catch (err) {
    if (err instanceof ConfigError) {
      const problems = err.issues.map((i) => vagueIssue(i, paths)).filter((p) => p !== undefined);
      if (err.issues.length === 0) return verdict("finding", "a ConfigError with no issue");
      return problems.length ? verdict("finding", problems[0]) : verdict("config-error");
    }
    if (err instanceof PorticoError) {
      return paths.some((p) => err.message.includes(p))
        ? verdict("config-error")
        : verdict("finding", `${err.name} naming no file: ${err.message}`);
    }
    const e = err as Error;
    const stack = (e?.stack ?? String(err)).split("\n").slice(0, 6).join("\n");
    return verdict("finding", `${e?.name ?? typeof err}: ${stack}`);
  }
}
