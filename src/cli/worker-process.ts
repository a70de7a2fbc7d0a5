// Starting one worker process of `portico run --workers N`: the same program with the same
// arguments, told which worker it is by the environment. How depends on what shares the
// listening ports (src/listeners/_shared/port-sharing.ts): Node 20 has no reusePort, so its
// workers are node:cluster's, whose listen() goes through this (primary) process; Bun's node:http
// sets SO_REUSEPORT only in a node:cluster worker (Bun 1.4.5 ignores `reusePort` in
// node:http's listen otherwise), so Bun's are node:cluster's too; on Deno every worker binds with
// SO_REUSEPORT, and a plain child process (the same `deno run`) will do.
import { spawn } from "node:child_process";
import cluster from "node:cluster";
import { currentRuntime } from "../util/runtime.ts";

export interface WorkerProcess {
  pid: number | undefined;
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the process has exited, with its code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: string | null }>;
}

export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  if (currentRuntime() !== "deno") {
    const w = cluster.fork(env);
    return {
      pid: w.process.pid,
      kill: (signal) => void w.process.kill(signal),
      exited: new Promise((resolve) => w.once("exit", (code, signal) => resolve({ code, signal }))),
    };
  }
  const [cmd, ...args] = ownCommand();
  const child = spawn(cmd!, args, { stdio: "inherit", env: { ...process.env, ...env } });
  return {
    pid: child.pid,
    // Not child.kill(): Deno's sends one signal per child, later ones are dropped (a worker
    // sent SIGHUP would never get SIGTERM), and it then reports that signal as the exit's.
    kill: (signal) => {
      try {
        if (child.pid !== undefined) process.kill(child.pid, signal);
      } catch {
        // already gone
      }
    },
    exited: new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: 1, signal: null }));
    }),
  };
}

/**
 * The command line that started this Deno process. Deno does not tell which flags it was run
 * with; Portico needs all permissions, as its documented `deno run -A` has.
 */
function ownCommand(): string[] {
  const deno = (globalThis as { Deno?: { execPath(): string; mainModule: string; args: string[] } }).Deno!;
  return [deno.execPath(), "run", "-A", "--quiet", deno.mainModule, ...deno.args];
}

/**
 * In a worker: stop (as SIGTERM does) once the supervisor is gone, so that a supervisor killed
 * outright leaves no worker holding the ports. A node:cluster worker exits by itself when its
 * primary's IPC channel closes; a spawned one (Deno) sees its parent change. (Watching stdin's
 * end instead does not work on Deno: a signal ends the read of stdin there.)
 */
export function watchSupervisor(): void {
  if (cluster.isWorker) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  }, 1_000);
  timer.unref();
}

/**
 * This process's command-line arguments. A node:cluster worker of a `bun build --compile`
 * binary is started with the binary's embedded entry ("/$bunfs/root/...") once more in front
 * of the arguments (Bun's fork passes cluster's `exec`, which is that entry): it is not one.
 */
export function commandArgs(): string[] {
  const args = process.argv.slice(2);
  if (cluster.isWorker && args[0] !== undefined && args[0] === process.argv[1]) return args.slice(1);
  return args;
}
