// The access log as `portico run` sets it up: where and how, from the command line
// (--access-log, --access-log-format), else routes.yaml's settings.accessLog (which already
// holds what Istio's MeshConfig and Telemetry documents say, under it), else the default
// (stdout, JSON). A reload applies a changed choice: the new writer opens, the old one is
// flushed and closed (a file is reopened, which is also how a rotated file is picked up).

import type { AccessLogSettings } from "../config/model.ts";
import { DEFAULT_ACCESS_LOG } from "../config/defaults.ts";
import { accessLog, type AccessLog, type AccessLogFormat } from "../observe/access-log.ts";
import { openLogWriter, type LogWriter } from "../observe/log-writer.ts";
import type { TrafficObserver } from "../observe/records.ts";
import { within } from "../util/deadline.ts";
import type { ParsedArgs } from "./args.ts";
import { log } from "./log.ts";

export interface AccessLogChoice {
  /** "stdout", "stderr", "off" or a file path. */
  path: string;
  format: AccessLogFormat;
}

/** CLI > settings (routes.yaml, then Istio) > default, field by field. */
export function accessLogChoice(
  args: Pick<ParsedArgs, "accessLog" | "accessLogFormat">,
  settings: AccessLogSettings | undefined,
): AccessLogChoice {
  return {
    path: args.accessLog ?? settings?.path ?? DEFAULT_ACCESS_LOG.path,
    format: args.accessLogFormat ?? settings?.format ?? DEFAULT_ACCESS_LOG.format,
  };
}

/** How long shutdown waits for the log to be written (a blocked pipe must not hold the exit). */
const CLOSE_WAIT_MS = 2_000;

export class AccessLogSetup {
  private choice: AccessLogChoice | undefined;
  private writer: LogWriter | undefined;
  private sink: AccessLog | undefined;
  private droppedBefore = 0;
  /** Hands records to the current sink; stays the same object across reloads. */
  readonly observer: TrafficObserver = {
    request: (r) => this.sink?.request(r),
    connection: (r) => this.sink?.connection(r),
    handshake: () => {},
    connectionOpened: () => {},
    connectionClosed: () => {},
  };

  constructor(private readonly args: Pick<ParsedArgs, "accessLog" | "accessLogFormat">) {}

  /** Opens (or, when changed, reopens) the log for a plan's settings. */
  async apply(settings: AccessLogSettings | undefined): Promise<void> {
    const next = accessLogChoice(this.args, settings);
    if (this.choice && this.choice.path === next.path && this.choice.format === next.format) return;
    const old = this.writer;
    const changed = this.choice !== undefined;
    this.choice = next;
    if (next.path === "off") {
      this.writer = undefined;
      this.sink = undefined;
    } else {
      this.writer = openLogWriter(next.path);
      this.sink = accessLog(this.writer, next.format, process.env.PORTICO_WORKER);
    }
    if (changed) log.info(`access log: ${next.path === "off" ? "off" : `${next.path} (${next.format})`}`);
    if (old) {
      this.droppedBefore += old.dropped();
      await old.close();
    }
  }

  /** Lines dropped so far because the writer was behind (for the metrics). */
  dropped(): number {
    return this.droppedBefore + (this.writer?.dropped() ?? 0);
  }

  /** Writes what is queued and closes the file; bounded, so a blocked pipe cannot hold the exit. */
  async close(): Promise<void> {
    const w = this.writer;
    this.writer = undefined;
    this.sink = undefined;
    if (w) await within(w.close(), CLOSE_WAIT_MS);
  }
}
