// Validating routes.yaml's lists and named maps ahead, entry by entry (schema-kit.ts
// validateAhead, a reload's), gives the output and the issues valibot gives in one call, for
// valid files and for files with wrong values anywhere.
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { parseAllDocuments } from "yaml";
import { ConfigSchema } from "../../src/config/routes-yaml/schema.ts";
import { aheadChunk, validateAhead } from "../../src/config/schema-kit.ts";
import { runAtOnce } from "../../src/util/slices.ts";

const ROOT = join(import.meta.dir, "../..");
const FUZZ = join(ROOT, "test/fixtures/config-fuzz");

/** The routes.yaml documents (no `kind`) of the checkout's examples and fuzz fixtures. */
function natives(): unknown[] {
  const files = [join(ROOT, "routes.yaml"), ...readdirSync(FUZZ).map((f) => join(FUZZ, f))];
  const out: unknown[] = [];
  for (const file of files)
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      if (!("toJS" in doc) || doc.errors.length > 0) continue;
      const data = doc.toJS();
      if (data && typeof data === "object" && !Array.isArray(data) && !("kind" in data)) out.push(data);
    }
  return out;
}

/** Many hosts, as bench:scale writes them. */
function large(n: number): unknown {
  return {
    listeners: [
      {
        name: "tls",
        port: 8443,
        protocol: "HTTPS",
        servers: Array.from({ length: n }, (_, i) => ({
          hosts: [`h${i}.test`],
          tls: { credential: `c${i}` },
        })),
      },
    ],
    credentials: Object.fromEntries(
      Array.from({ length: n }, (_, i) => [`c${i}`, { cert: `${i}.crt`, key: `${i}.key` }]),
    ),
    routes: [{ hosts: ["*"], http: [{ directResponse: { status: 200, body: "one" } }] }],
  };
}

const WRONG: unknown[] = [0, -1, "", "x", "HTTPS", [], {}, null, true, [1], { a: 1 }];

/** A copy with one value somewhere replaced by a wrong one (seeded). */
function mutate(data: unknown, random: (n: number) => number): unknown {
  const copy = structuredClone(data);
  let node = copy as Record<string, unknown>;
  for (let depth = 0; depth < 8; depth++) {
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = keys[random(keys.length)]!;
    const next = node[key];
    if (next === null || typeof next !== "object" || random(3) === 0) {
      node[key] = structuredClone(WRONG[random(WRONG.length)]);
      break;
    }
    node = next as Record<string, unknown>;
  }
  return copy;
}

const result = (r: v.SafeParseResult<typeof ConfigSchema>) => ({
  success: r.success,
  // as text: the order of keys counts (it is the order of entries and of their messages)
  output: r.success ? JSON.stringify(r.output) : undefined,
  issues: (r.issues ?? []).map((i) => [i.message, (i.path ?? []).map((p) => p.key)]),
});

function compare(data: unknown): void {
  const once = v.safeParse(ConfigSchema, structuredClone(data));
  const copy = structuredClone(data);
  runAtOnce(validateAhead(ConfigSchema, copy));
  expect(result(v.safeParse(ConfigSchema, copy))).toEqual(result(once));
}

describe("validateAhead", () => {
  const saved = aheadChunk.entries;
  afterAll(() => {
    aheadChunk.entries = saved;
  });

  for (const entries of [1, 3, 256])
    test(`valid and broken files, lists validated ${entries} entries at a time`, () => {
      aheadChunk.entries = entries;
      const files = [...natives(), large(40)];
      expect(files.length).toBeGreaterThan(10);
      let seed = 5;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (const data of files) {
        compare(data);
        for (let i = 0; i < 20; i++) compare(mutate(data, random));
      }
    });
});
