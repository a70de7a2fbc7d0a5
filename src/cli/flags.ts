// The one flag parser of the command line, for `portico` and `portico certs` alike: small on
// purpose (no dependency) and strict, so a mistyped option stops with a usage error instead of
// being taken for a file name. It only splits the command line; what a value means is the
// caller's to check.

import { UsageError } from "../util/errors.ts";

export interface FlagSpec {
  /** Takes a value: `--out DIR` or `--out=DIR`. */
  value?: boolean;
  /** May be given more than once (the caller collects or keeps the last); otherwise an error. */
  repeatable?: boolean;
  /** Other spellings, such as "-c" for "--config". */
  aliases?: string[];
  /** What the usage error says after the flag when its value is missing; "needs a value". */
  missing?: string;
}

/** A flag as given (`spelled`: "-c" or "--config") under its spec's name, or a positional argument. */
export type Arg = { flag: string; spelled: string; value: string } | { positional: string };

/**
 * Splits `argv` by `specs` (keyed by the long name, "--config"), keeping the command line's
 * order. `--` ends the options; a lone `-` is a positional argument. A value that looks like an
 * option (`-x`, `--x`) is taken for a forgotten value; `--name=-x` passes it anyway.
 */
export function parseFlags(argv: string[], specs: Record<string, FlagSpec>): Arg[] {
  const bySpelling = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    for (const s of [name, ...(spec.aliases ?? [])]) bySpelling.set(s, name);
  }
  const out: Arg[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i + 1).map((positional) => ({ positional })));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      out.push({ positional: a });
      continue;
    }
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const spelled = eq > 0 ? a.slice(0, eq) : a;
    const flag = bySpelling.get(spelled);
    if (flag === undefined) throw new UsageError(`unknown option ${spelled}`);
    const spec = specs[flag]!;
    if (seen.has(flag) && !spec.repeatable) throw new UsageError(`${spelled} given twice`);
    seen.add(flag);
    let value = "";
    if (!spec.value) {
      if (eq > 0) throw new UsageError(`${spelled} takes no value`);
    } else if (eq > 0) value = a.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || /^-[A-Za-z-]/.test(next)) {
        throw new UsageError(`${spelled} ${spec.missing ?? "needs a value"}`);
      }
      value = next;
      i++;
    }
    out.push({ flag, spelled, value });
  }
  return out;
}

/** The flags (the last value of each) and the positional arguments, when their order does not matter. */
export function flagsAndPositionals(args: Arg[]): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (const a of args) {
    if ("positional" in a) positional.push(a.positional);
    else flags.set(a.flag, a.value);
  }
  return { flags, positional };
}
