// Startup and lifecycle messages on stderr, one line each, with a level a person can scan.
const write = (level: string, msg: string) =>
  process.stderr.write(`${new Date().toISOString()} ${level} ${msg}\n`);

export const log = {
  info: (msg: string) => write("info ", msg),
  warn: (msg: string) => write("warn ", msg),
  error: (msg: string) => write("error", msg),
};
