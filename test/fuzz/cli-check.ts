// The config fuzzer's check of the real command: `portico validate` run as a child process on a
// case (on Bun, Deno or Node), which must exit 0 when the in-process run made a plan, and 1 with
// "invalid configuration" and a case file named on stderr when it did not. A stack trace or any
// other exit code is a finding.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DENO_ENV, buildNodeBundle, porticoCommand, type Runtime } from "../../scripts/runtimes.ts";
import type { Seed } from "./corpus.ts";

let nodeBundle: string | undefined;

/** The flags a seed's files need, as `portico validate` takes them. */
function validateArgs(seed: Seed, dir: string, paths: string[]): string[] {
  return [
    "validate",
    ...paths.flatMap((p) => ["-c", p]),
    ...[...seed.services].flatMap(([name, url]) => ["--service", `${name}=${url}`]),
    ...[...seed.portMap].flatMap(([from, to]) => ["--port", `${from}=${to}`]),
    ...seed.credentialDirs.flatMap((d) => ["--credentials", join(dir, d)]),
  ];
}

/** Undefined when the command agrees with the in-process verdict; else what went wrong. */
export function checkCli(
  runtime: Runtime,
  seed: Seed,
  dir: string,
  paths: string[],
  planned: boolean,
): string | undefined {
  if (runtime === "node")
    nodeBundle ??= buildNodeBundle(join(mkdtempSync(join(tmpdir(), "fuzz-node-")), "p.mjs"));
  const [cmd, ...args] = porticoCommand(runtime, validateArgs(seed, dir, paths), { nodeBundle });
  const r = spawnSync(cmd!, args, {
    cwd: dir,
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, ...DENO_ENV },
    maxBuffer: 64 * 1024 * 1024,
  });
  const head = `portico validate on ${runtime} exited ${r.status ?? r.signal}`;
  if (planned) return r.status === 0 ? undefined : `${head}, expected 0: ${r.stderr.slice(0, 500)}`;
  if (r.status !== 1) return `${head}, expected 1: ${r.stderr.slice(0, 500)}`;
  if (/^\s+at /m.test(r.stderr)) return `${head} with a stack trace: ${r.stderr.slice(0, 500)}`;
  if (!paths.some((p) => r.stderr.includes(p)))
    return `${head} naming no case file: ${r.stderr.slice(0, 500)}`;
  return undefined;
}
