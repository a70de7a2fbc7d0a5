// Which sockets the worker processes of `portico run --workers N` share, and how, per runtime
// (workers are node:cluster's on Node and Bun, plain child processes on Deno:
// src/cli/worker-process.ts). A listener's own port is shared:
// - Node 20 ignores `reusePort` (it came in 22.12): node:cluster's primary holds the socket and
//   hands connections to the workers, so a public listen must not be `exclusive`.
// - Bun: every worker binds with SO_REUSEPORT and the kernel spreads connections: node:net's
//   `reusePort`, made `exclusive` so that Bun's cluster does not route it through the primary;
//   Bun.serve's `reusePort`; Bun's node:http sets SO_REUSEPORT itself in a cluster worker.
// - Deno: SO_REUSEPORT through node:net's and node:http's `reusePort`.
// Port 0 is private to the process: a worker's admin listener and the loopback servers behind
// an SNI front must not be shared (`exclusive` keeps node:cluster from routing them through the
// primary). Outside workers nothing is shared, so a second Portico on a taken port still fails
// with "the port is in use".
import { currentRuntime } from "../../util/runtime.ts";

/** This process is worker `PORTICO_WORKER` of a supervisor (src/cli/workers.ts). */
export function inWorker(): boolean {
  return process.env.PORTICO_WORKER !== undefined;
}

/** node:net `listen` options that say whether `port` is shared with the other workers. */
export function netSharing(port: number): { reusePort?: true; exclusive?: true } {
  if (!inWorker()) return {};
  if (port === 0) return { exclusive: true };
  const runtime = currentRuntime();
  if (runtime === "node") return {};
  return runtime === "bun" ? { reusePort: true, exclusive: true } : { reusePort: true };
}

/** Bun.serve's `reusePort` for `port`. */
export function bunReusePort(port: number): boolean {
  return inWorker() && port !== 0;
}
