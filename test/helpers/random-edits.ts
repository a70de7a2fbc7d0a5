// Seeded random edits of a text, for the tests that compare an incremental or sliced parse with
// one from scratch over hundreds of edits: the same edits on every run, so a failure repeats.

/** A random integer below `n`, from a linear congruential generator started at `seed`. */
export function seededRandom(seed: number): (n: number) => number {
  let state = seed;
  return (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}

/**
 * One edit of `text`: a character of `alphabet` written over one or inserted (half of them at a
 * line's start, where a mapping's key is), one of `lines` inserted as a line, or a line removed.
 */
export function randomEdit(
  text: string,
  random: (n: number) => number,
  alphabet: string[],
  lines: (() => string)[],
): string {
  const all = text.split("\n");
  const line = random(all.length);
  const at = random(2) ? random(text.length + 1) : all.slice(0, line).join("\n").length + (line ? 1 : 0);
  const kind = random(3 + lines.length);
  if (kind === 0) return text.slice(0, at) + alphabet[random(alphabet.length)] + text.slice(at + 1);
  if (kind === 1) return text.slice(0, at) + alphabet[random(alphabet.length)] + text.slice(at);
  if (kind === 2) return [...all.slice(0, line), ...all.slice(line + 1)].join("\n");
  return [...all.slice(0, line), lines[kind - 3]!(), ...all.slice(line)].join("\n");
}
