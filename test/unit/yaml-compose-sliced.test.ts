// Composing a document in pieces (a reload's, yaml-compose-sliced.ts) gives the nodes one compose
// gives: every node's value, range, comments and blank-line marks, and the document's range and
// comments; a document with any error or warning is left to one compose.
import { randomEdit, seededRandom } from "../helpers/random-edits.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { type Document, Parser } from "yaml";
import { composeSliced, composeTokens, pieces } from "../../src/config/yaml-compose-sliced.ts";
import { UNIQUE_KEYS_LATER } from "../../src/config/yaml-unique-keys.ts";
import { runAtOnce } from "../../src/util/slices.ts";
import { dump } from "../helpers/yaml-dump.ts";

const OPTIONS = { prettyErrors: false, ...UNIQUE_KEYS_LATER } as const;

const docDump = (d: Document) => ({
  range: d.range,
  comment: d.comment,
  commentBefore: d.commentBefore,
  contents: dump(d.contents),
});

/** Both ways; the sliced one, when it gives a document, must equal the whole. */
function compare(text: string): "sliced" | "whole" {
  const tokens = [...new Parser().parse(text)];
  const whole = composeTokens(tokens, OPTIONS);
  const sliced = runAtOnce(composeSliced(tokens, text.length, OPTIONS));
  if (sliced === undefined) return "whole";
  expect(whole.every((d) => d.errors.length === 0 && d.warnings.length === 0)).toBe(true);
  expect({ text, docs: sliced.map(docDump) }).toEqual({ text, docs: whole.map(docDump) });
  return "sliced";
}

const nested = [
  "# routes.yaml",
  "",
  "settings:",
  "  admin: off # no admin",
  "listeners:",
  "  # the one listener",
  "  - name: tls",
  "    port: 8443",
  "    servers:",
  ...Array.from({ length: 6 }, (_, i) => `      - { hosts: [h${i}.test], tls: { credential: c${i} } }`),
  "",
  "      # a server written out",
  "      - hosts:",
  "          - a.test",
  "          - b.test",
  "        tls:",
  "          credential: c9",
  "      # after the last server",
  "  - name: plain",
  "    port: 8080",
  "credentials:",
  ...Array.from({ length: 6 }, (_, i) => `  c${i}: { cert: /a/${i}.crt, key: /a/${i}.key }`),
  "  # a comment between entries",
  "",
  "  c9:",
  "    cert: /a/9.crt",
  "    key: /a/9.key",
  "  empty:",
  "  # the last comment",
  "routes:",
  '  - hosts: ["*"]',
  "    http:",
  "      -",
  "      - directResponse:",
  "          status: 200",
  "          body: |",
  "            one",
  "",
  "            two",
  "      - route: [{ destination: web }]",
  "        plain: a long",
  "          plain scalar",
  "# after the document",
].join("\n");

describe("composeSliced", () => {
  const saved = pieces.chars;
  afterAll(() => {
    pieces.chars = saved;
  });

  for (const chars of [1, 16, 100, 4096])
    test(`a nested document, pieces of ${chars} characters`, () => {
      pieces.chars = chars;
      for (const text of [
        nested,
        `${nested}\n`,
        `---\n${nested}\n...\n`,
        `- a\n- ${nested.replace(/\n/g, "\n  ")}`,
      ])
        compare(text);
      expect(compare(nested)).toBe("sliced");
    });

  test("300 random edits, each composed in pieces equal to one compose", () => {
    pieces.chars = 8;
    const random = seededRandom(7);
    const alphabet = ["a", "0", " ", " ", ":", "-", "\n", "#", '"', "|", "{", "}", "[", "]", ","];
    let sliced = 0;
    for (let step = 0; step < 300; step++) {
      let text = nested;
      for (let e = 0; e <= random(3); e++)
        text = randomEdit(text, random, alphabet, [() => `${" ".repeat(random(8))}# note ${step}`, () => ""]);
      if (compare(text) === "sliced") sliced++;
    }
    // Enough of them composed in pieces for the comparison to matter.
    expect(sliced).toBeGreaterThan(100);
  }, 60_000);
});
