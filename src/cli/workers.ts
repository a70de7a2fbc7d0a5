// `portico run --workers N`: this process becomes the supervisor of N worker processes that
// each run the gateway on the same ports (src/listeners/_shared/port-sharing.ts says how they
// share them on each runtime). The supervisor validates the configuration before any worker
// starts, runs the admin listener at the configured address (aggregating the workers' own
// admin listeners, which sit on ephemeral loopback ports), passes SIGHUP on to every worker,
// stops them all on SIGTERM or SIGINT, and restarts a worker that dies, giving up when one
// keeps dying quickly (as a process manager would: a crash loop is a broken deployment).
import type { RunningListener } from "../listeners/_shared/types.ts";
import { createAdminApp, type AdminApp } from "../admin/app.ts";
import { mountSupervisor } from "../admin/supervisor-routes.ts";
import type { Plan } from "../provision/plan.ts";
import { startControl, WORKER_ENV, type WorkerReport } from "./control.ts";
import { log } from "./log.ts";
import { ROTATE_SIGNAL, SharedTicketKey } from "./ticket-key-sharing.ts";
import { startWorkerProcess, type WorkerProcess } from "./worker-process.ts";

/** A worker that exits within this long of starting counts as a quick crash. */
const QUICK_CRASH_MS = 10_000;
/** This many quick crashes in a row of one worker stop the supervisor. */
const MAX_QUICK_CRASHES = 5;
const MAX_BACKOFF_MS = 5_000;
/** How long the workers get to start, and to stop (they drain for 2 s: connections.ts). */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export interface SupervisorDeps {
  count: number;
  /** Loads and validates the configuration, logging its warnings. */
  load(): Promise<{ plan: Plan; warnings: number }>;
  /** Reports a fatal startup error; the exit code. */
  fatal(err: unknown): number;
  /** Starts the admin listener (at the address --admin or the plan gives) with `app`. */
  startAdmin(app: AdminApp, plan: Plan): Promise<{ listener: RunningListener; url: string } | undefined>;
  /** Logs the startup summary, with the first worker's report of what it bound. */
  summary(plan: Plan, first: WorkerReport, adminUrl: string | undefined, warnings: number): void;
  /** Starts one worker process with `env` added (default: worker-process.ts). */
  startWorker?: (env: Record<string, string>) => WorkerProcess;
}

interface Slot {
  index: number;
  proc: WorkerProcess;
  startedAt: number;
  report: WorkerReport | undefined;
  quickCrashes: number;
}

export async function supervise(deps: SupervisorDeps): Promise<number> {
  let loaded;
  try {
    loaded = await deps.load();
  } catch (err) {
    return deps.fatal(err);
  }
  const slots: Slot[] = [];
  let stopping = false;
  let settle: ((outcome: string | undefined) => void) | undefined;
  const allReady = () => slots.length === deps.count && slots.every((s) => s.report !== undefined);

  // Signalled only once a worker serves: it listens for the signal from before its report.
  const ticketKey = new SharedTicketKey(() => {
    for (const s of slots) if (s.report) s.proc.kill(ROTATE_SIGNAL);
  });
  const control = await startControl(
    (report) => {
      const slot = slots[report.worker];
      // A report from a process already replaced is stale.
      if (!slot || (slot.proc.pid !== undefined && slot.proc.pid !== report.pid)) return;
      const restarted = slot.report === undefined && settle === undefined;
      slot.report = report;
      if (restarted) log.info(`worker ${slot.index} serving again (pid ${report.pid})`);
      if (allReady()) settle?.(undefined);
    },
    () => ticketKey.hex,
  );

  const spawn = (index: number, quickCrashes = 0): Slot => {
    const proc = (deps.startWorker ?? startWorkerProcess)({
      ...control.env,
      ...ticketKey.env(),
      [WORKER_ENV]: String(index),
    });
    const slot: Slot = { index, proc, startedAt: Date.now(), report: undefined, quickCrashes };
    slots[index] = slot;
    void proc.exited.then((how) => exited(slot, how));
    return slot;
  };

  const exited = (slot: Slot, how: { code: number | null; signal: string | null }) => {
    if (stopping || slots[slot.index] !== slot) return;
    const what = how.signal ? `was killed by ${how.signal}` : `exited with code ${how.code}`;
    if (settle) {
      // Still starting: a worker that cannot start (a port it cannot bind) fails startup.
      settle(`worker ${slot.index} (pid ${slot.proc.pid}) ${what} before it served`);
      return;
    }
    slot.report = undefined;
    const quick = Date.now() - slot.startedAt < QUICK_CRASH_MS;
    const crashes = quick ? slot.quickCrashes + 1 : 1;
    if (crashes > MAX_QUICK_CRASHES) {
      log.error(`worker ${slot.index} ${what}, its ${crashes}th quick crash in a row: giving up`);
      void shutdown(1);
      return;
    }
    const delay = Math.min(100 * 2 ** (crashes - 1), MAX_BACKOFF_MS);
    const say = () =>
      log.error(`worker ${slot.index} (pid ${slot.proc.pid}) ${what}; restarting it in ${delay} ms`);
    // A worker exits 0 only when it was told to stop: Ctrl-C or `timeout` signal the whole
    // process group, and this process's own handler may not have run yet. Said once it has not.
    if (how.code !== 0) say();
    setTimeout(() => {
      if (stopping) return;
      if (how.code === 0) say();
      spawn(slot.index, crashes);
    }, delay);
  };

  let admin: { listener: RunningListener; url: string } | undefined;
  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (done = resolve));
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const live = slots.filter(Boolean);
    for (const s of live) s.proc.kill("SIGTERM");
    const all = Promise.all(live.map((s) => s.proc.exited));
    const timer = setTimeout(() => {
      for (const s of live) s.proc.kill("SIGKILL");
    }, STOP_TIMEOUT_MS);
    await all;
    clearTimeout(timer);
    await admin?.listener.close();
    ticketKey.stop();
    control.close();
    done(code);
  };

  // Start every worker and wait until each has reported, or one has failed.
  const started = new Promise<string | undefined>((resolve) => (settle = resolve));
  for (let i = 0; i < deps.count; i++) spawn(i);
  const timeout = setTimeout(
    () => settle?.(`the workers did not all start within ${START_TIMEOUT_MS / 1000} s`),
    START_TIMEOUT_MS,
  );
  const failure = await started;
  clearTimeout(timeout);
  settle = undefined;
  if (failure !== undefined) {
    log.error(`${failure}; stopping the others`);
    await shutdown(1);
    return finished;
  }

  const workerAdmins = () =>
    slots.flatMap((s) => (s.report ? [{ worker: s.index, port: s.report.adminPort }] : []));
  try {
    const app = createAdminApp(allReady);
    mountSupervisor(app, workerAdmins);
    admin = await deps.startAdmin(app, loaded.plan);
  } catch (err) {
    await shutdown(1);
    await finished;
    return deps.fatal(err);
  }
  deps.summary(loaded.plan, slots[0]!.report!, admin?.url, loaded.warnings);

  const onHup = () => {
    log.info(`SIGHUP: passed on to ${deps.count} workers`);
    // A worker still starting reads the files as they are now; SIGHUP would end it.
    for (const s of slots) if (s.report) s.proc.kill("SIGHUP");
  };
  const stop = (signal: string) => {
    log.info(`${signal}: stopping ${deps.count} workers`);
    void shutdown(0);
  };
  const onInt = () => stop("SIGINT");
  const onTerm = () => stop("SIGTERM");
  process.on("SIGHUP", onHup);
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  const code = await finished;
  process.off("SIGHUP", onHup);
  process.off("SIGINT", onInt);
  process.off("SIGTERM", onTerm);
  if (code === 0) log.info("stopped");
  return code;
}
