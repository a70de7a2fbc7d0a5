// Istio's regular expressions are RE2 (https://github.com/google/re2/wiki/Syntax); Portico runs
// JavaScript's. This turns an RE2 pattern into the JavaScript one that matches the same strings,
// or says why it cannot. Constructs RE2 rejects (lookaround, backreferences) are errors, as they
// would be in Istio; RE2 syntax JavaScript reads differently ([[:alpha:]], \z, \A, (?P<n>..),
// a leading (?i), "]" first in a class) is translated, so no pattern silently changes meaning.

export type Re2Translation = { ok: true; source: string; flags: string } | { ok: false; problem: string };

/** Bracket-expression bodies for RE2's ASCII classes, valid inside a JavaScript [...]. */
const POSIX: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7f",
  blank: "\\t ",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

export function translateRe2(pattern: string): Re2Translation {
  const fail = (problem: string): Re2Translation => ({ ok: false, problem });
  let flags = "";
  let i = 0;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === "U")
        return fail("the ungreedy flag (?U) is not supported; write lazy quantifiers like .*? instead");
      if (!"ims".includes(f)) return fail(`unknown flag ${JSON.stringify(f)} in ${lead[0]}`);
      if (!flags.includes(f)) flags += f;
    }
    i = lead[0].length;
  }
  let out = "";
  let inClass = false;
  let unicode = false;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "\\") {
      const d = pattern[i + 1];
      if (d === undefined) return fail("trailing backslash");
      if (!inClass && d >= "1" && d <= "9")
        return fail(`backreferences like \\${d} are not supported by RE2`);
      if (d === "Q") return fail("\\Q...\\E quoting is not supported; escape the characters one by one");
      if (d === "C") return fail("\\C (any byte) is not supported");
      if (d === "Z") return fail("\\Z is not RE2 syntax; use \\z or $");
      if (!inClass && d === "z") {
        out += "(?![\\s\\S])"; // end of text, whatever the flags
        i += 2;
        continue;
      }
      if (!inClass && d === "A") {
        out += "(?<![\\s\\S])"; // start of text
        i += 2;
        continue;
      }
      if (d === "p" || d === "P") {
        // Unicode classes need JavaScript's u flag; RE2 also has the one-letter form \pL.
        unicode = true;
        const e = pattern[i + 2];
        if (e === undefined) return fail(`incomplete \\${d}`);
        if (e === "{") out += `\\${d}`;
        else {
          out += `\\${d}{${e}}`;
          i += 3;
          continue;
        }
        i += 2;
        continue;
      }
      out += c + d;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === "[" && pattern[i + 1] === ":") {
        const end = pattern.indexOf(":]", i + 2);
        if (end > 0) {
          const name = pattern.slice(i + 2, end);
          if (name.startsWith("^"))
            return fail(
              `negated POSIX classes like [:${name}:] are not supported; negate the whole class instead`,
            );
          const body = POSIX[name];
          if (body === undefined) return fail(`unknown POSIX class [:${name}:]`);
          out += body;
          i = end + 2;
          continue;
        }
      }
      if (c === "]") inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      i++;
      if (pattern[i] === "^") {
        out += "^";
        i++;
      }
      // In RE2 a "]" right after "[" or "[^" is a literal; in JavaScript "[]" is an empty class.
      if (pattern[i] === "]") {
        out += "\\]";
        i++;
      }
      continue;
    }
    if (c === "(" && pattern[i + 1] === "?") {
      const rest = pattern.slice(i + 2);
      if (rest.startsWith("P<")) {
        out += "(?<";
        i += 4;
        continue;
      }
      if (rest.startsWith("P=")) return fail("named backreferences (?P=name) are not supported by RE2");
      if (/^(?:[=!]|<[=!])/.test(rest))
        return fail("lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported by RE2");
      if (rest.startsWith(":") || rest.startsWith("<")) {
        out += "(?";
        i += 2;
        continue;
      }
      return fail("flags are only supported at the start of the pattern, as in (?i)abc");
    }
    out += c;
    i++;
  }
  if (inClass) return fail("missing ] at the end of a character class");
  if (unicode) flags += "u";
  return { ok: true, source: out, flags };
}

/** Why `pattern` is not a usable RE2 regular expression, or undefined when it is one. */
export function re2Problem(pattern: string): string | undefined {
  const t = translateRe2(pattern);
  if (!t.ok) return t.problem;
  try {
    new RegExp(t.source, t.flags);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The JavaScript RegExp for an RE2 pattern. `fullMatch` anchors it, as Istio's StringMatch regex
 * and Envoy's safe_regex match the whole value; `global` is for substitution (every match).
 * Throws on a pattern that re2Problem would reject.
 */
export function compileRe2(pattern: string, opts: { fullMatch?: boolean; global?: boolean } = {}): RegExp {
  const t = translateRe2(pattern);
  if (!t.ok) throw new Error(`invalid regular expression ${JSON.stringify(pattern)}: ${t.problem}`);
  const source = opts.fullMatch ? `^(?:${t.source})$` : t.source;
  return new RegExp(source, opts.global ? `${t.flags}g` : t.flags);
}

/** Number of capture groups in a compilable pattern. */
export function captureGroups(pattern: string): number {
  const t = translateRe2(pattern);
  if (!t.ok) return 0;
  return new RegExp(`${t.source}|`, t.flags).exec("")!.length - 1;
}

/**
 * An RE2 rewrite string (`\1` for a group, `\0` for the whole match, `\\` for a backslash), as
 * Envoy's regex substitution takes it, turned into a replacer function; or the problem with it.
 */
export function compileSubstitution(
  rewrite: string,
  groups: number,
): { ok: true; replace: (match: string, ...args: unknown[]) => string } | { ok: false; problem: string } {
  const parts: (string | number)[] = [];
  let literal = "";
  for (let i = 0; i < rewrite.length; i++) {
    const c = rewrite[i]!;
    if (c !== "\\") {
      literal += c;
      continue;
    }
    const d = rewrite[++i];
    if (d === "\\") {
      literal += "\\";
      continue;
    }
    if (d === undefined || d < "0" || d > "9")
      return { ok: false, problem: "a backslash must be followed by a digit (\\1) or another backslash" };
    const n = Number(d);
    if (n > groups) {
      return {
        ok: false,
        problem:
          `\\${n} refers to capture group ${n}, but the pattern has ` +
          `${groups === 0 ? "no groups" : groups === 1 ? "only 1 group" : `only ${groups} groups`}`,
      };
    }
    if (literal) parts.push(literal);
    literal = "";
    parts.push(n);
  }
  if (literal) parts.push(literal);
  return {
    ok: true,
    replace: (match, ...args) => {
      let s = "";
      for (const p of parts)
        s += typeof p === "string" ? p : p === 0 ? match : ((args[p - 1] as string | undefined) ?? "");
      return s;
    },
  };
}
