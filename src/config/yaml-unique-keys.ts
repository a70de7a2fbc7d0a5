// Duplicate mapping keys, found in linear time. The yaml package checks each new key against
// every key before it in the same mapping (compose/util-map-includes.js), which is quadratic:
// a `credentials:` or Istio mapping with 10,000 entries took seconds of a 10,000-host startup,
// on every reload too. Portico parses with that check off (`uniqueKeys: false`) and puts the
// same errors into the document here, with the same equality (the same node, or scalars whose
// values are ===) and the same message and position.
import { type Document, YAMLParseError, isCollection, isMap, isPair, isScalar } from "yaml";
import { runAtOnce, type Steps } from "../util/slices.ts";

/** Parse options that leave the key check to `addDuplicateKeyErrors`. */
export const UNIQUE_KEYS_LATER = { uniqueKeys: false } as const;

/**
 * Adds a DUPLICATE_KEY error, as the yaml package words it, for each repeated key of each mapping.
 * `checked`: pairs checked already (taken from an earlier parse without errors,
 * yaml-documents.ts), whose insides are not walked again; their keys still count.
 */
export function addDuplicateKeyErrors(doc: Document, checked?: ReadonlySet<unknown>): void {
  runAtOnce(duplicateKeySteps(doc, checked));
}

/** addDuplicateKeyErrors, pausing (`yield`) every few hundred nodes (util/slices.ts). */
export function* duplicateKeySteps(doc: Document, checked?: ReadonlySet<unknown>): Steps<void> {
  const found: YAMLParseError[] = [];
  // An explicit stack: tooDeepLine (yaml-bounds.ts) refuses deep documents only after this.
  const stack: unknown[] = [doc.contents];
  let n = 0;
  while (stack.length > 0) {
    if ((++n & 255) === 0) yield;
    const node = stack.pop();
    if (isPair(node)) {
      if (!checked?.has(node)) stack.push(node.value, node.key);
    } else if (isCollection(node)) {
      if (isMap(node)) {
        const seen = new Set<unknown>();
        for (const pair of node.items) {
          if ((++n & 255) === 0) yield;
          const key = isScalar(pair.key) ? pair.key.value : pair.key;
          if (!seen.has(key)) seen.add(key);
          else {
            const at = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
            found.push(new YAMLParseError([at, at + 1], "DUPLICATE_KEY", "Map keys must be unique"));
          }
        }
      }
      for (const item of node.items) stack.push(item);
    }
  }
  if (found.length === 0) return;
  doc.errors.push(...found);
  doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
}
