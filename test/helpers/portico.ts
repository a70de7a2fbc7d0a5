// Starts Portico as a real child process on a given config and stops it again.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildNodeBundle,
  porticoCommand as commandOn,
  ROOT,
  RUNTIMES,
  type Runtime,
} from "../../scripts/runtimes.ts";

export { ROOT };
export const BOOK = join(ROOT, "test/fixtures/istio-in-action-ch4");

/** Which runtime runs Portico in this test run: PORTICO_RUNTIME=bun|deno|node (default bun). */
export const RUNTIME = (process.env.PORTICO_RUNTIME ?? "bun") as Runtime;
if (!RUNTIMES.includes(RUNTIME)) {
  throw new Error(`PORTICO_RUNTIME must be ${RUNTIMES.join(", ")}, not ${RUNTIME}`);
}

let nodeBundle: string | undefined;
/** Node runs the bundled JS, as users of `npx portico` do; built once per test process. */
function nodeEntry(): string {
  return (nodeBundle ??= buildNodeBundle(join(mkdtempSync(join(tmpdir(), "portico-node-")), "portico.mjs")));
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
  const where = RUNTIME === "node" ? { nodeBundle: nodeEntry(), node: process.env.NODE_BINARY } : {};
  return commandOn(RUNTIME, args, where);
}

/** Runs `portico <args>` to completion (for validate, version, ...). */
export function runPortico(
  args: string[],
  timeoutMs = 15_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
export function startPortico(
  configFile: string,
  opts: { timeoutMs?: number; cwd?: string } = {},
): Promise<PorticoProcess> {
  return startPorticoWith(["run", "-c", configFile], opts);
}

/** Starts `portico <args>` (a run command) and resolves once it logs that it is serving. */
export async function startPorticoWith(
  args: string[],
  opts: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {},
): Promise<PorticoProcess> {
  const [cmd, ...rest] = porticoCommand(args);
  const env = opts.env ? { ...process.env, ...opts.env } : undefined;
  const proc = spawn(cmd!, rest, { stdio: ["ignore", "pipe", "pipe"], cwd: opts.cwd ?? ROOT, env });
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
    if (proc.exitCode !== null)
      throw new Error(`portico exited with ${proc.exitCode} before serving:\n${out}`);
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`portico did not start in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return handle;
}
