// Background timers that never keep the process alive. node:timers, because its timers have
// unref() on Bun, Deno and Node alike (Deno's global setTimeout returns a bare number).
import { clearTimeout, setTimeout } from "node:timers";

export interface Later {
  cancel(): void;
}

/** Runs `fn` once after `ms`, unref'd. */
export function later(ms: number, fn: () => void): Later {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
}
