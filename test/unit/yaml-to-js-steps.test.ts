// toJsSteps (yaml-bounds.ts), which converts large collections item by item on a reload, gives
// what the yaml package's toJS gives, keys in the same order.
import { expect, test } from "bun:test";
import { parseDocument } from "yaml";
import { TO_JS, toJsSteps } from "../../src/config/yaml-bounds.ts";
import { runAtOnce } from "../../src/util/slices.ts";

const servers = (n: number, block: boolean) =>
  Array.from({ length: n }, (_, i) =>
    block
      ? `      - hosts:\n          - h${i}.test\n        tls:\n          credential: c${i}`
      : `      - { hosts: [h${i}.test], tls: { credential: c${i} } }`,
  );

const texts = {
  "flow servers and credentials": [
    "listeners:",
    "  - name: tls",
    "    port: 8443",
    "    servers:",
    ...servers(300, false),
    "credentials:",
    ...Array.from({ length: 300 }, (_, i) => `  c${i}: { cert: /a/${i}.crt, key: /a/${i}.key }`),
  ].join("\n"),
  "block servers": ["listeners:", "  - name: tls", "    servers:", ...servers(200, true)].join("\n"),
  // Keys toJS treats apart, and keys that are not strings: converted whole.
  "numbers as keys": [
    "credentials:",
    ...Array.from({ length: 300 }, (_, i) => `  ${i % 7 === 0 ? i : `c${i}`}: { cert: /a/${i}.crt }`),
  ].join("\n"),
  "__proto__ as a key": [
    "credentials:",
    ...Array.from({ length: 300 }, (_, i) => `  c${i}: { cert: /a/${i}.crt }`),
    "  __proto__: { cert: /x }",
    "  constructor: { cert: /y }",
  ].join("\n"),
  "a key twice": [
    "credentials:",
    ...Array.from({ length: 300 }, (_, i) => `  c${i}: { cert: /a/${i}.crt }`),
    "  c1: again",
  ].join("\n"),
  "a merge key": ["m:", ...Array.from({ length: 900 }, (_, i) => `  k${i}: ${i}`), "  <<: { a: 1 }"].join(
    "\n",
  ),
};

for (const [name, text] of Object.entries(texts))
  test(name, () => {
    const doc = parseDocument(text, { uniqueKeys: false });
    expect(text.length).toBeGreaterThan(4096);
    const one = JSON.stringify(doc.toJS(TO_JS));
    const stepped: Record<string, unknown> = {};
    for (const pair of (doc.contents as { items: { key: { value: string }; value: unknown }[] }).items)
      stepped[pair.key.value] = runAtOnce(toJsSteps(pair.value, doc));
    expect(JSON.stringify(stepped)).toBe(one);
  });
