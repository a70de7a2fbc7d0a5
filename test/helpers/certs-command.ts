// `portico certs …` run inside the test process, with its output captured, for the unit tests
// of `certs gen` and `certs inspect` (the end-to-end tests spawn the real CLI instead).
import { certsCommand } from "../../src/cli/certs-command.ts";

export interface CertsRun {
  code: number;
  /** What it wrote to stdout. */
  out: string;
  /** What it wrote to stderr. */
  err: string;
}

/** Runs `portico certs` with `args`; `now` fixes the clock it judges validity by. */
export async function runCertsCommand(args: string[], now?: Date): Promise<CertsRun> {
  let out = "";
  let err = "";
  const code = await certsCommand(args, { out: (s) => (out += s), err: (s) => (err += s), now });
  return { code, out, err };
}
