// Portico's linear duplicate-key check reports what the yaml package's own (quadratic) check
// reports: the same errors at the same positions.
import { describe, expect, test } from "bun:test";
import { parseAllDocuments } from "yaml";
import { UNIQUE_KEYS_LATER, addDuplicateKeyErrors } from "../../src/config/yaml-unique-keys.ts";

const errors = (text: string, ours: boolean) =>
  parseAllDocuments(text, { prettyErrors: false, ...(ours ? UNIQUE_KEYS_LATER : {}) }).flatMap((doc) => {
    if (ours) addDuplicateKeyErrors(doc);
    return doc.errors.map((e) => [e.code, e.pos[0], e.message]);
  });

describe("addDuplicateKeyErrors", () => {
  const cases = [
    "a: 1\nb: 2\n",
    "a: 1\na: 2\n",
    "credentials:\n  c1: { cert: a, key: b }\n  c2: x\n  c1: y\n",
    "x: {a: 1, b: {c: 1, c: 2}, a: 3}\n",
    "- {k: 1}\n- k: 1\n  k: 2\n---\n1: a\n'1': b\n1: c\n",
    "? [a]\n: 1\n? [a]\n: 2\nnull: 1\n~: 2\n",
    "a: 1\n  bad indent: [\n",
  ];
  for (const text of cases)
    test(JSON.stringify(text), () => {
      expect(errors(text, true)).toEqual(errors(text, false));
    });

  test("a mapping of 2,000 keys with one repeated", () => {
    const text = Array.from({ length: 2_000 }, (_, i) => `c${i}: x`).join("\n") + "\nc1000: y\n";
    expect(errors(text, true)).toEqual([
      ["DUPLICATE_KEY", text.lastIndexOf("c1000"), "Map keys must be unique"],
    ]);
  });
});
