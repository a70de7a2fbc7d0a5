// The sliced parse (a reload's) yields the documents, errors and lines of the one-piece parse.
import { describe, expect, test } from "bun:test";
import { parseYaml, parseYamlSliced } from "../../src/config/yaml-documents.ts";

const summary = ({ docs, lineCounter }: ReturnType<typeof parseYaml>) =>
  docs.map((d) => ({
    js: d.toJS(),
    errors: d.errors.map((e) => [e.code, e.pos[0], lineCounter.linePos(e.pos[0]).line]),
    warnings: d.warnings.map((w) => w.code),
    end: d.range,
  }));

describe("parseYamlSliced", () => {
  const big = Array.from({ length: 1_000 }, (_, i) => `  c${i}: { cert: /a/${i}.crt, key: /a/${i}.key }`);
  const cases = {
    empty: "",
    comment: "# nothing\n",
    "two documents": "a: 1\n---\nb: [1, 2]\n...\n",
    "an error": "a: 1\n  b: [\n",
    "a duplicate key": "a: 1\nb: 2\na: 3\n",
    "no final newline": "a: {b: c}",
    "a large file that takes several slices": `credentials:\n${big.join("\n")}\n`,
  };
  for (const [name, text] of Object.entries(cases))
    test(name, async () => {
      expect(summary(await parseYamlSliced(text))).toEqual(summary(parseYaml(text)));
    });
});
