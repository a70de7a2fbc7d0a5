// The sliced parse (a reload's) yields the documents, errors and lines of the one-piece parse, also
// when it reuses the unchanged top-level entries of the parse before.
import { describe, expect, test } from "bun:test";
import { isMap, type Node, type YAMLMap } from "yaml";
import { type ParsedText, parseYaml, parseYamlSliced, YamlReuse } from "../../src/config/yaml-documents.ts";

const summary = ({ docs, lineCounter }: ReturnType<typeof parseYaml>) =>
  docs.map((d) => ({
    js: d.toJS(),
    errors: d.errors.map((e) => [e.code, e.pos[0], lineCounter.linePos(e.pos[0]).line]),
    warnings: d.warnings.map((w) => w.code),
    end: d.range,
    // where each top-level entry and its value are, as error lines are found from them
    at: isMap(d.contents)
      ? d.contents.items.map((p) => [(p.key as Node)?.range, (p.value as Node)?.range])
      : [],
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

describe("parseYamlSliced with YamlReuse (a reload's)", () => {
  const creds = Array.from({ length: 300 }, (_, i) => `  c${i}: { cert: /a/${i}.crt, key: /a/${i}.key }`);
  const base = [
    "# routes.yaml",
    "listeners:",
    "  - { port: 8443, protocol: HTTPS, servers: [{ hosts: [a.test], tls: { credential: c0 } }] }",
    `credentials:\n${creds.join("\n")}`,
    'routes:\n  - hosts: ["*"]\n    http:\n      - directResponse: { status: 200, body: "one" }',
  ];
  const text = (parts: string[]) => `${parts.join("\n")}\n`;
  const steps: [string, string][] = [
    ["the first parse", text(base)],
    ["a route's body", text(base.with(4, base[4]!.replace("one", "two")))],
    [
      "a longer listener: the entries after it move",
      text(base.with(2, base[2]!.replace("a.test", "aa.test"))),
    ],
    ["a duplicate key in a changed entry", text(base.with(4, `${base[4]}\n        status: 1`))],
    ["fixed again", text(base)],
    ["a top-level key twice, in a kept entry and a new one", text([...base, "listeners: []"])],
    ["fixed again", text(base)],
    ["an alias: the whole document", text([...base, "x: &a [1]", "y: *a"])],
    ["a syntax error", text(base.with(4, "routes: [\n"))],
    ["fixed again", text(base)],
    ["a comment after the last entry", text([...base, "# the end"])],
  ];

  test("each step gives what a parse from scratch gives, and unchanged entries are the same nodes", async () => {
    const reuse = new YamlReuse();
    let before: ParsedText | undefined;
    for (const [name, t] of steps) {
      const got = await parseYamlSliced(t, reuse);
      expect({ name, parsed: summary(got) }).toEqual({ name, parsed: summary(parseYaml(t)) });
      if (name === "a route's body") {
        // listeners and credentials taken from the first parse, routes composed again
        const pairs = (p: ParsedText) => (p.docs[0]!.contents as YAMLMap).items;
        expect(pairs(got)[0]).toBe(pairs(before!)[0]!);
        expect(pairs(got)[1]).toBe(pairs(before!)[1]!);
        expect(pairs(got)[2]).not.toBe(pairs(before!)[2]!);
      }
      before = got;
    }
  });
});
