// Starts Portico as a real child process on a given config and stops it again.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BOOK = join(ROOT, "test/fixtures/istio-in-action-ch4");
const BUN = join(ROOT, "node_modules/.bin/bun");
const DENO = join(ROOT, "node_modules/.bin/deno");

/** Which runtime runs Portico in this test run: PORTICO_RUNTIME=bun|deno|node (default bun). */
export const RUNTIME = (process.env.PORTICO_RUNTIME ?? "bun") as "bun" | "deno" | "node";
if (!["bun", "deno", "node"].includes(RUNTIME)) throw new Error(`PORTICO_RUNTIME must be bun, deno or node, not ${RUNTIME}`);

let nodeBundle: string | undefined;
/** Node runs the bundled JS, as users of `npx portico` do; built once per test process. */
function nodeEntry(): string {
  if (nodeBundle) return nodeBundle;
  const out = join(mkdtempSync(join(tmpdir(), "portico-node-")), "portico.mjs");
  const r = spawnSync(BUN, ["build", "--target=node", "--format=esm", join(ROOT, "src/main.ts"), "--outfile", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bundling for node failed:\n${r.stderr}`);
  return (nodeBundle = out);
}

export interface PorticoProcess {
  proc: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  stop(): Promise<number | null>;
}

export function writeConfig(yaml: string, name = "routes.yaml"): string {
  const dir = mkdtempSync(join(tmpdir(), "portico-test-"));
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** Command line that runs Portico's CLI with the given arguments. */
export function porticoCommand(args: string[]): string[] {
  switch (RUNTIME) {
    case "bun":
      return [BUN, join(ROOT, "src/main.ts"), ...args];
    case "deno":
      return [DENO, "run", "-A", "--quiet", join(ROOT, "src/main.ts"), ...args];
    case "node":
      return [process.env.NODE_BINARY ?? "node", nodeEntry(), ...args];
  }
}

/** Runs `portico <args>` to completion (for validate, version, ...). */
export function runPortico(args: string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...rest] = porticoCommand(args);
  return new Promise((resolvePromise, reject) => {
    const p = spawn(cmd!, rest, { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Starts `portico run -c file` and resolves once it logs that it is serving. */
export function startPortico(configFile: string, opts: { timeoutMs?: number; cwd?: string } = {}): Promise<PorticoProcess> {
  return startPorticoWith(["run", "-c", configFile], opts);
}

/** Starts `portico <args>` (a run command) and resolves once it logs that it is serving. */
export async function startPorticoWith(args: string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<PorticoProcess> {
  const [cmd, ...rest] = porticoCommand(args);
  const proc = spawn(cmd!, rest, { stdio: ["ignore", "pipe", "pipe"], cwd: opts.cwd ?? ROOT });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const handle: PorticoProcess = {
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (!/ serving /.test(out)) {
    if (proc.exitCode !== null) throw new Error(`portico exited with ${proc.exitCode} before serving:\n${out}`);
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`portico did not start in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return handle;
}
