// Every field of a parsed YAML node tree, for tests that compare two ways of parsing.

/** Every own field of every node, nested: what a difference anywhere would show. */
export function dump(x: unknown): unknown {
  if (x === null || typeof x !== "object") return x;
  if (Array.isArray(x)) return x.map(dump);
  const out: Record<string, unknown> = { kind: x.constructor?.name };
  for (const [k, v] of Object.entries(x)) out[k] = dump(v);
  return out;
}
