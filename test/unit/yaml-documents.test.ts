// The sliced parse (a reload's) yields the documents, errors and lines of the one-piece parse, also
// when it reuses the unchanged top-level entries of the parse before.
import { randomEdit, seededRandom } from "../helpers/random-edits.ts";
import { describe, expect, test } from "bun:test";
import { isMap, type Node, type YAMLMap } from "yaml";
import { type ParsedText, parseYaml, parseYamlSliced, YamlReuse } from "../../src/config/yaml-documents.ts";
import { pieces } from "../../src/config/yaml-compose-sliced.ts";
import { dump } from "../helpers/yaml-dump.ts";

const summary = ({ docs, lineCounter }: ReturnType<typeof parseYaml>) =>
  docs.map((d) => ({
    js: toJs(d),
    errors: d.errors.map((e) => [e.code, e.pos[0], lineCounter.linePos(e.pos[0]).line]),
    warnings: d.warnings.map((w) => w.code),
    end: d.range,
    comments: [d.commentBefore, d.comment],
    // every node, with its range and comments (composed in pieces or kept from the parse before)
    tree: dump(d.contents),
    // where each top-level entry and its value are, as error lines are found from them
    at: isMap(d.contents)
      ? d.contents.items.map((p) => [(p.key as Node)?.range, (p.value as Node)?.range])
      : [],
  }));

/** toJS, or its error: a random edit can leave an alias without its anchor. */
function toJs(d: ReturnType<typeof parseYaml>["docs"][number]): unknown {
  try {
    return d.toJS();
  } catch (err) {
    return { threw: String(err) };
  }
}

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

describe("parseYamlSliced lexes only from the first changed entry", () => {
  const creds = Array.from({ length: 50 }, (_, i) => `  c${i}: { cert: /a/${i}.crt, key: /a/${i}.key }`);
  const base = `settings:\n  admin: off\ncredentials:\n${creds.join("\n")}\n`;
  const routes = (body: string) => `routes:\n  - directResponse: { status: 200, body: "${body}" }\n`;
  // Each text follows the one before; `from`: where lexing must start (0: the whole text).
  const steps: [string, string, (t: string) => number][] = [
    ["the first parse", `${base}${routes("one")}`, () => 0],
    ["a route's body", `${base}${routes("two")}`, (t) => t.indexOf("routes:")],
    ["a new entry between two", `${base}extra: 1\n${routes("two")}`, (t) => t.indexOf("extra:")],
    ["the first entry", `settings:\n  admin: on\n${base.slice(23)}extra: 1\n${routes("two")}`, () => 0],
    // A line that does not start a key where the changed entry starts: the whole text.
    ["a comment before a changed entry", `${base}# x\nextra: 2\n${routes("two")}`, () => 0],
    ["that entry again", `${base}# x\nextra: 3\n${routes("two")}`, (t) => t.indexOf("extra:")],
    // Each of these continues the entry before the change: the whole text again.
    ["a compact sequence", `a:\n- 1\nb: 2\n`, () => 0],
    ["an item of it", `a:\n- 1\n- 2\nb: 2\n`, () => 0],
    ["a kept block scalar", `a: |+\n  x\nb: 1\n`, () => 0],
    ["a blank line it keeps", `a: |+\n  x\n\nb: 1\n`, () => 0],
    ["a plain scalar", `a: x\nb: 1\n`, () => 0],
    ["its next line", `a: x\n  y\nb: 1\n`, () => 0],
    ["a changed entry that does not parse", `a: x\n  y\nb: [\n`, () => 0],
    ["fixed", `a: x\n  y\nb: [1]\n`, () => 0],
    ["a duplicate of a kept key", `a: x\n  y\nb: [1]\na: 2\n`, (t) => t.indexOf("a: 2")],
    // The comment before the document and the one (and blank line) before the changed key go
    // where a parse from scratch puts them, though neither is lexed or composed again.
    ["comments and blank lines", `# top\n\nsettings:\n  a: 1\n\n# about b\nb: 1\n`, () => 0],
    ["the entry after them", `# top\n\nsettings:\n  a: 1\n\n# about b\nb: 2\n`, (t) => t.indexOf("b: 2")],
  ];

  test("each step gives what a parse from scratch gives", async () => {
    const reuse = new YamlReuse();
    for (const [name, t, from] of steps) {
      const got = await parseYamlSliced(t, reuse);
      expect({ name, parsed: summary(got), from: got.lexedFrom }).toEqual({
        name,
        parsed: summary(parseYaml(t)),
        from: from(t),
      });
    }
  });
});

describe("parseYamlSliced keeps the entries after a change, moved", () => {
  const creds = Array.from({ length: 50 }, (_, i) => `  c${i}: { cert: /a/${i}.crt, key: /a/${i}.key }`);
  const rest = `credentials:\n${creds.join("\n")}\nroutes:\n  - directResponse: { status: 200 }\n# the end\n`;
  // Each text follows the one before; `to`: where lexing must stop (undefined: at the end).
  const steps: [string, string, (t: string) => number | undefined][] = [
    ["the first parse", `settings:\n  admin: off\n${rest}`, () => undefined],
    [
      "the first entry, longer",
      `settings:\n  admin: 127.0.0.1:15000\n${rest}`,
      (t) => t.indexOf("credentials:"),
    ],
    // A line added at the end of an entry, right before the next key: that entry changed.
    [
      "a line more in it",
      `settings:\n  admin: 127.0.0.1:15000\n  serverHeader: x\n${rest}`,
      (t) => t.indexOf("credentials:"),
    ],
    ["shorter again", `settings:\n  admin: off\n${rest}`, (t) => t.indexOf("credentials:")],
    ["an entry added before", `x: 1\nsettings:\n  admin: off\n${rest}`, (t) => t.indexOf("credentials:")],
    // The line before the moved key is blank, or a comment: lexed to the end.
    ["a blank line before it", `x: 1\nsettings:\n  admin: off\n\n${rest}`, () => undefined],
    ["a comment before it", `x: 1\nsettings:\n  admin: off\n# c\n${rest}`, () => undefined],
    [
      "a change in the middle",
      `x: 1\nsettings:\n  admin: off\n# c\n${rest.replace("c7:", "c77:")}`,
      (t) => t.indexOf("routes:"),
    ],
  ];

  test("each step gives what a parse from scratch gives, and the moved entries are the same nodes", async () => {
    const reuse = new YamlReuse();
    let before: ParsedText | undefined;
    for (const [name, t, to] of steps) {
      const got = await parseYamlSliced(t, reuse);
      expect({ name, parsed: summary(got), to: got.lexedTo }).toEqual({
        name,
        parsed: summary(parseYaml(t)),
        to: to(t),
      });
      if (got.lexedTo !== undefined) {
        const last = (p: ParsedText) => (p.docs[0]!.contents as YAMLMap).items.at(-1);
        expect(last(got)).toBe(last(before!));
      }
      before = got;
    }
  });
});

describe("parseYamlSliced with YamlReuse against random edits", () => {
  // A reload sees whatever an editor saved: random one-character edits, line inserts and deletes
  // (seeded, so a failure repeats) of a routes.yaml-like text, each parsed with the reuse of the
  // parse before and compared with a parse from scratch. Some edits break the YAML and a later
  // one may mend it, which exercises falling back to a whole parse and coming back to reuse.
  const base = [
    "# routes.yaml",
    "settings:",
    "  admin: off",
    "listeners:",
    "  - name: https",
    "    port: 8443",
    "    servers: [{ hosts: [a.test], tls: { credential: c0 } }]",
    "credentials:",
    ...Array.from({ length: 12 }, (_, i) => `  c${i}: { cert: /a/${i}.crt, key: /a/${i}.key }`),
    "services:",
    "  web: http://127.0.0.1:9080",
    "  # a comment",
    "  api:",
    "    url: http://127.0.0.1:9081",
    // Where a moved entry's key takes what the lines before it hold: a kept block scalar's
    // blank line, a comment, a plain scalar's next line, a compact sequence, a flow collection.
    "keep: |+",
    "  x",
    "",
    "# about plain",
    "plain: a",
    "  b",
    "",
    "folded: >-",
    "  y",
    "seq:",
    "- 1",
    "- 2",
    "flow: { a: [1,",
    "  2] }",
    "routes:",
    '  - hosts: ["*"]',
    "    http:",
    "      - match: [{ uri: { prefix: /api } }]",
    "        route: [{ destination: api }]",
    "      - directResponse:",
    "          status: 200",
    "          body: |",
    "            one",
    "            two",
  ].join("\n");
  const alphabet = [
    "a",
    "z",
    "0",
    " ",
    " ",
    ":",
    "-",
    "\n",
    "#",
    '"',
    "'",
    "|",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&",
    "*",
    "+",
    ">",
  ];

  for (const chars of [undefined, 8])
    test(`300 edits, each parse equal to one from scratch${chars ? `, composed in pieces of ${chars} characters` : ""}`, async () => {
      const saved = pieces.chars;
      pieces.chars = chars ?? saved;
      try {
        await edits();
      } finally {
        pieces.chars = saved;
      }
    }, 60_000);

  async function edits() {
    const random = seededRandom(13);
    const reuse = new YamlReuse();
    const clean = `${base}\n`;
    let reused = 0;
    let moved = 0;
    const check = async (step: number, text: string) => {
      const got = await parseYamlSliced(text, reuse);
      if ((got.lexedFrom ?? 0) > 0) reused++;
      if (got.lexedTo !== undefined) moved++;
      expect({ step, text, parsed: summary(got) }).toEqual({ step, text, parsed: summary(parseYaml(text)) });
    };
    for (let step = 0; step < 300; step++) {
      // One or two edits of the clean text, then the clean text again (a fix saved after a typo).
      let text = clean;
      // Half the character edits at a line's start, where a top-level entry's key is.
      for (let e = 0; e <= random(2); e++)
        text = randomEdit(text, random, alphabet, [() => `k${step}: ${step}`]);
      await check(step, text);
      await check(step, clean);
    }
    // The edits must have taken the incremental path often enough for the comparison to matter.
    expect(reused).toBeGreaterThan(40);
    // And the entries after a change, kept and moved, often enough too.
    expect(moved).toBeGreaterThan(30);
  }
});
