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
// with "the port is in use". One exception, on Linux: bun-serve binds its TLS port with
// SO_REUSEPORT so that a certificate swap can bind the new Bun.serve before the old one closes
// (Bun.serve's reload() keeps the old certificates); `claimPort` first binds the port without
// it, so a port another process holds still fails.
import { createServer } from "node:net";
import { currentRuntime } from "../../util/runtime.ts";
import { listenError } from "./listen-error.ts";
import type { ListenerSpec } from "./types.ts";

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

/**
 * Whether a Bun.serve on a public port can bind a successor beside itself: Linux's SO_REUSEPORT
 * lets sockets of one user share a port and spreads new connections over them (socket(7)); other
 * systems' SO_REUSEPORT is not that, so elsewhere a certificate change restarts the listener.
 */
export function canBindBeside(): boolean {
  return process.platform === "linux";
}

/**
 * The port `spec` asks for (port 0: one the kernel picks), checked free by binding it without
 * SO_REUSEPORT, then released for a server that binds it with SO_REUSEPORT. Between the two a
 * process that also sets SO_REUSEPORT could take the port unnoticed; any other holder fails the
 * check, as a plain bind would. In a worker the port is shared on purpose: not checked.
 */
export function claimPort(spec: ListenerSpec): Promise<number> {
  if (inWorker() && spec.port !== 0) return Promise.resolve(spec.port);
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err) => reject(listenError(spec, err)));
    probe.listen({ host: spec.address, port: spec.port, exclusive: true }, () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}
