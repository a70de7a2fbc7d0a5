// One reload path for SIGHUP, the file watcher, `POST /reload` and ACME: load the same files and
// flags again, and either apply the result listener by listener (Gateway.apply) or, when it does
// not load, change nothing and say why. Reloads run one after another, never overlapping: a
// request made while one runs waits for it, then a reload loads what is on the disk by then.
// Requests made while that next reload waits to start join it (docs/architecture.md, "Reload").

import type { Config } from "../config/model.ts";
import type { ApplyReport } from "../gateway/start-gateway.ts";
import type { Plan } from "../provision/plan.ts";
import { ConfigError, formatIssue } from "../util/errors.ts";
import { FileReads } from "../util/file-reads.ts";
import { log } from "./log.ts";
import type { SummaryLine } from "./summary.ts";

export type ReloadTrigger = "signal" | "watch" | "api" | "acme";

/** ApplyReport with the errors as text, as the log and the admin API print it. */
export interface ReloadReport {
  updated: string[];
  restarted: string[];
  started: string[];
  stopped: string[];
  failed: { name: string; error: string }[];
  /** Credentials whose PEM text changed (parsed) and those a load before had parsed already. */
  credentials?: { parsed: number; reused: number };
  /** Files read, and files whose metadata said they were unchanged since the last load (not read). */
  files?: { read: number; reused: number };
  /** From the trigger to the new plan serving, in milliseconds. */
  ms: number;
}

export interface ReloadResult {
  /** True when the new configuration loaded and was applied (some listeners may still have failed). */
  ok: boolean;
  trigger: ReloadTrigger;
  report?: ReloadReport;
  /** Why the configuration was refused: its issues, formatted, "; "-separated. */
  error?: string;
  /** Exactly the lines this reload logged, in order. */
  lines: string[];
}

/** What a load produces: the composed configuration, its plan, and the files it read. */
export interface Loaded {
  config: Config;
  plan: Plan;
  reads: FileReads;
  /** How many credentials the load parsed, and how many it found parsed already. */
  credentials?: { parsed: number; reused: number };
  /** How many files the load read, and how many it found unchanged (util/file-reads.ts's FileMemo). */
  files?: { read: number; reused: number };
}

export interface ReloaderDeps {
  /** The initial load, already serving. */
  initial: Loaded;
  /** Loads the same files and flags again, noting every file read in `reads`. */
  load(reads: FileReads): Promise<Omit<Loaded, "reads">>;
  apply(plan: Plan): Promise<ApplyReport>;
  /** The log lines of the listeners named (started or restarted ones). */
  listenerLines(plan: Plan, names: Set<string>): SummaryLine[];
  /** What is reloaded, for the first line: "routes.yaml, istio/". */
  what: string;
}

const STARTS: Record<ReloadTrigger, string> = {
  signal: "SIGHUP",
  watch: "file change",
  api: "POST /reload",
  acme: "ACME certificate",
};

export class Reloader {
  /** The configuration and plan serving now. */
  current: { config: Config; plan: Plan };
  /** Files to watch: the last attempt's, plus the serving config's when that attempt was refused. */
  reads: FileReads;
  /** 1 at startup, +1 per applied reload. */
  generation = 1;
  private readonly listeners: ((r: ReloadResult) => void)[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * The reload queued behind the running one, not started yet: it has read nothing, so it
   * serves every request made until it starts. With 1,000 ACME credentials ordered at first
   * start, each certificate asked for a reload of its own, and each reload provisions every
   * credential: a thousand full reloads in a row instead of a few.
   */
  private next: { q: Queued; result: Promise<ReloadResult> } | undefined;

  constructor(private readonly deps: ReloaderDeps) {
    this.current = { config: deps.initial.config, plan: deps.initial.plan };
    this.reads = deps.initial.reads;
  }

  /** Called after every reload, applied or refused (metrics, the watcher re-arming, workers). */
  onReloaded(fn: (r: ReloadResult) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Queues a reload behind any running one, or joins the one queued already; `cause` (a changed
   * file, a credential) goes into the first line.
   */
  reload(trigger: ReloadTrigger, cause?: string): Promise<ReloadResult> {
    const queued = this.next;
    if (queued !== undefined) {
      const { q } = queued;
      if (!q.triggers.includes(trigger)) q.triggers.push(trigger);
      if (cause !== undefined) q.causes.add(cause);
      q.requests++;
      return queued.result;
    }
    const q: Queued = {
      triggers: [trigger],
      causes: new Set(cause === undefined ? [] : [cause]),
      requests: 1,
    };
    const result = this.queue.then(() => {
      if (this.next?.q === q) this.next = undefined;
      return this.run(q);
    });
    this.next = { q, result };
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Resolves when no reload is running or queued. */
  idle(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  private async run(q: Queued): Promise<ReloadResult> {
    const trigger = q.triggers[0]!;
    const started = performance.now();
    const lines: string[] = [];
    const info = (msg: string, fields?: Record<string, unknown>) => {
      lines.push(msg);
      log.info(msg, fields);
    };
    const error = (msg: string, fields?: Record<string, unknown>) => {
      lines.push(msg);
      log.error(msg, fields);
    };
    const joined = q.requests > 1 ? { requests: q.requests, triggers: q.triggers } : {};
    info(`${startLine(q)}: reloading ${this.deps.what}${changedNote(q.causes)}`, { trigger, ...joined });
    const reads = new FileReads();
    let next: Omit<Loaded, "reads">;
    try {
      next = await this.deps.load(reads);
    } catch (err) {
      const detail =
        err instanceof ConfigError
          ? err.issues.map((i) => formatIssue(i)).join("; ")
          : (err as Error).message;
      this.reads = reads.union(this.reads);
      error(`reload refused, still serving the previous configuration: ${detail}`, {
        trigger,
        ok: false,
        error: detail,
      });
      return this.done({ ok: false, trigger, error: detail, lines });
    }
    let applied: ApplyReport;
    try {
      applied = await this.deps.apply(next.plan);
    } catch (err) {
      // Not expected (apply reports listeners that fail to start); never an unhandled rejection.
      const detail = `applying the new configuration failed: ${(err as Error).message}`;
      error(detail, { trigger, ok: false, error: detail });
      return this.done({ ok: false, trigger, error: detail, lines });
    }
    this.current = { config: next.config, plan: next.plan };
    this.reads = reads;
    this.generation++;
    const report: ReloadReport = {
      ...applied,
      failed: applied.failed.map((f) => ({ name: f.name, error: f.error.message })),
      ms: Math.round(performance.now() - started),
    };
    if (next.credentials) report.credentials = next.credentials;
    if (next.files) report.files = next.files;
    const creds = next.credentials
      ? `; credentials: ${next.credentials.parsed} parsed, ${next.credentials.reused} unchanged`
      : "";
    const files = next.files ? `; files: ${next.files.read} read, ${next.files.reused} unchanged` : "";
    for (const l of this.deps.listenerLines(next.plan, new Set([...report.started, ...report.restarted])))
      info(l.msg, l.fields);
    for (const f of report.failed) error(`listener ${f.name} could not start: ${f.error}`);
    info(
      `reloaded: ${report.updated.length} updated in place, ${report.restarted.length} restarted, ` +
        `${report.started.length} started, ${report.stopped.length} stopped, ${report.failed.length} failed` +
        `${creds}${files}; ${report.ms} ms`,
      { trigger, ok: true, generation: this.generation, ...report },
    );
    return this.done({ ok: true, trigger, report, lines });
  }

  private done(r: ReloadResult): ReloadResult {
    for (const fn of this.listeners) {
      try {
        fn(r);
      } catch (err) {
        log.error(`after reload: ${(err as Error).message}`);
      }
    }
    return r;
  }
}

/** A reload waiting to start, and every request it answers. */
interface Queued {
  /** What asked for it, first asker first (ReloadResult.trigger is the first). */
  triggers: ReloadTrigger[];
  /** Changed files or credentials, in the order they were named. */
  causes: Set<string>;
  requests: number;
}

/** "SIGHUP", or "SIGHUP, file change (3 requests)" for a reload that several asked for. */
function startLine(q: Queued): string {
  const who = q.triggers.map((t) => STARTS[t]).join(", ");
  return q.requests > 1 ? `${who} (${q.requests} requests)` : who;
}

/** Causes named in the first line, at most this many (1,000 ACME credentials can join one). */
const CAUSES_SHOWN = 5;

/** " (a, b changed)", " (a, b, c, d, e and 995 more changed)", or nothing. */
function changedNote(causes: Set<string>): string {
  if (causes.size === 0) return "";
  const shown = [...causes].slice(0, CAUSES_SHOWN).join(", ");
  const more = causes.size > CAUSES_SHOWN ? ` and ${causes.size - CAUSES_SHOWN} more` : "";
  return ` (${shown}${more} changed)`;
}
