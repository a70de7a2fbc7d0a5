// Startup and lifecycle messages on stderr, one line each: text a person can scan, or one JSON
// object per line (--log-format json) for a log pipeline. `fields` are the structured facts of
// the message; in text they are already in the message, so they are left out.

export type LogFormat = "text" | "json";

let format: LogFormat = "text";

/** Chosen once, from --log-format, before anything is logged. */
export function setLogFormat(f: LogFormat): void {
  format = f;
}

export function logFormat(): LogFormat {
  return format;
}

type Fields = Record<string, unknown>;

/** A worker's lines say which worker wrote them (PORTICO_WORKER: src/cli/control.ts). */
const worker = process.env.PORTICO_WORKER;
const tag = worker === undefined ? "" : `[worker ${worker}] `;
const workerField = worker === undefined ? {} : { worker: Number(worker) };

const write = (level: "info" | "warn" | "error", msg: string, fields?: Fields) => {
  const time = new Date().toISOString();
  process.stderr.write(
    format === "json"
      ? `${JSON.stringify({ time, level, ...workerField, msg, ...fields })}\n`
      : `${time} ${level.padEnd(5)} ${tag}${msg}\n`,
  );
};

export const log = {
  info: (msg: string, fields?: Fields) => write("info", msg, fields),
  warn: (msg: string, fields?: Fields) => write("warn", msg, fields),
  error: (msg: string, fields?: Fields) => write("error", msg, fields),
};
