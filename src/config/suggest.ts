// "Did you mean" hints for misspelt field names, enum values and references.

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ("hsots"). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[i]!.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]!.push(best);
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The candidate closest to `name`, if it is close enough to be a likely typo. Case is ignored
 * so that `protocol: http` suggests "HTTP".
 */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase();
  // Allow about one edit per three characters: "hots" -> "hosts", but not "db" -> "web".
  const limit = Math.max(1, Math.floor(wanted.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // The distance is at least the difference in length: a name far longer than every candidate
    // (a fuzzer's 400 kB value) never reaches the quadratic editDistance.
    if (Math.abs(candidate.length - wanted.length) > limit) continue;
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance <= limit && distance < wanted.length && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean "x"?` or an empty string. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const best = suggest(name, candidates);
  return best === undefined ? "" : `; did you mean "${best}"?`;
}

/** Message for a reference to something not defined: suggests a near name or lists the known ones. */
export function unknownName(kind: string, plural: string, name: string, known: readonly string[]): string {
  const head = `unknown ${kind} "${name}"`;
  const hint = didYouMean(name, known);
  if (hint) return head + hint;
  if (known.length === 0) return `${head}; no ${plural} are defined`;
  return `${head}; known ${plural}: ${known.join(", ")}`;
}
