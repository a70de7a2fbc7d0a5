// Durations as Istio writes them in YAML ("15s", "250ms", "1.5s", "1m30s"): Go's
// time.ParseDuration syntax restricted to the units Istio documents (h, m, s, ms).

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

// "ms" must come before "m" in the alternation, or "250ms" would stop at "250m".
const PART = /(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)/y;

/**
 * Milliseconds for a duration string, or undefined when the text is not one. A bare number is
 * not a duration: "15" could mean seconds or milliseconds, so the unit is required.
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    PART.lastIndex = at;
    const part = PART.exec(text);
    if (!part) return undefined;
    total += Number(part[1]) * UNIT_MS[part[2]!]!;
    at = PART.lastIndex;
  }
  // Round to microseconds so "1.1s" is 1100, not 1100.0000000000002.
  return Math.round(total * 1000) / 1000;
}
