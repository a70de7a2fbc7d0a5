// Mutations of valid configuration files, for the config fuzzer: each case is a seed (one or more
// YAML files, see corpus.ts) with a few mutations applied, some to the parsed YAML tree (a value's
// type swapped, a key dropped or duplicated, huge numbers, long strings, deep nesting), some to the
// text or its bytes (alias bombs, binary garbage, truncation, invalid UTF-8, tabs, duplicate
// keys, long lines, documents of other kinds mixed in). Deterministic: the same random source
// gives the same case.
import { parseAllDocuments, stringify } from "yaml";

export type Rng = () => number;

/** One file of a case: bytes, since invalid UTF-8 is one of the mutations. */
export interface CaseFile {
  name: string;
  bytes: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder(); // replaces invalid sequences, as readFile(…, "utf8") does

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

// ---------------------------------------------------------------- values

const NUMBERS = [
  0,
  -1,
  -0,
  1.5,
  65535,
  65536,
  1e308,
  -1e308,
  2 ** 53 + 1,
  Number.MAX_SAFE_INTEGER,
  1e-300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  4294967296,
  0.1,
];
const STRINGS = [
  "",
  " ",
  "*",
  "*.",
  ".",
  "..",
  "../../../../etc/passwd",
  "/",
  "a".repeat(300),
  "\u0000",
  "%00",
  "(a+)+$",
  "[",
  "(?i)x",
  "\\",
  "${HOME}",
  "ü.example",
  "xn--",
  "127.0.0.1:99999",
  "[::1]",
  "0x10",
  "1e999",
  "10s10s",
  "-5s",
  "999999999999h",
  "true",
  "null",
  "~",
  "<<",
  "a\nb",
  "\t",
  "\u{1F600}",
  "http://",
  "tcp://h",
  "h2://[::1]:0",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
];
const KEYS = ["__proto__", "constructor", "prototype", "toString", "unknownField", "", "0", "<<", "a.b"];

function randomScalar(rng: Rng): unknown {
  switch (int(rng, 5)) {
    case 0:
      return pick(rng, NUMBERS);
    case 1:
      return pick(rng, STRINGS);
    case 2:
      return rng() < 0.5;
    case 3:
      return null;
    default:
      return int(rng, 100000) - 1000;
  }
}

function randomValue(rng: Rng, like: unknown): unknown {
  switch (int(rng, 8)) {
    case 0:
      return [like];
    case 1:
      return { [pick(rng, ["value", "name", "host", "number", "exact"])]: like };
    case 2:
      return [];
    case 3:
      return {};
    case 4:
      return typeof like === "string" ? like.repeat(int(rng, 4) + 2) : String(like);
    default:
      return randomScalar(rng);
  }
}

// ---------------------------------------------------------------- tree mutations

type Container = Record<string, unknown> | unknown[];
interface Slot {
  parent: Container;
  key: string | number;
}

/** Every place in the tree a value sits, so one can be picked uniformly. */
function slots(root: unknown): Slot[] {
  const out: Slot[] = [];
  const walk = (node: unknown, depth: number) => {
    if (depth > 40 || node === null || typeof node !== "object") return;
    const entries: [string | number, unknown][] = Array.isArray(node)
      ? node.map((v, i) => [i, v])
      : Object.entries(node);
    for (const [key, value] of entries) {
      out.push({ parent: node as Container, key });
      walk(value, depth + 1);
    }
  };
  walk(root, 0);
  return out;
}

const get = (s: Slot) => (s.parent as Record<string | number, unknown>)[s.key];
const set = (s: Slot, v: unknown) => {
  (s.parent as Record<string | number, unknown>)[s.key] = v;
};
function drop(s: Slot): void {
  if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
  else delete s.parent[s.key as string];
}

function nest(rng: Rng, value: unknown, depth: number): unknown {
  let v = value;
  for (let i = 0; i < depth; i++) v = rng() < 0.5 ? [v] : { a: v };
  return v;
}

type TreeMutation = (rng: Rng, all: Slot[], root: unknown, textLength: number) => void;
const TREE_MUTATIONS: Record<string, TreeMutation> = {
  swapType: (rng, all) => {
    const s = pick(rng, all);
    set(s, randomValue(rng, get(s)));
  },
  dropKey: (rng, all) => drop(pick(rng, all)),
  duplicateItem: (rng, all) => {
    const s = pick(rng, all);
    const copy = structuredClone(get(s));
    if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 0, copy);
    else s.parent[`${String(s.key)}${pick(rng, ["", "2", "_"])}`] = copy;
  },
  number: (rng, all) => {
    const numbers = all.filter((s) => typeof get(s) === "number");
    set(pick(rng, numbers.length ? numbers : all), pick(rng, NUMBERS));
  },
  string: (rng, all) => {
    const strings = all.filter((s) => typeof get(s) === "string");
    set(pick(rng, strings.length ? strings : all), pick(rng, STRINGS));
  },
  longString: (rng, all) => set(pick(rng, all), "x".repeat(int(rng, 200_000) + 1000)),
  deepNesting: (rng, all) => {
    const s = pick(rng, all);
    set(s, nest(rng, get(s), int(rng, 60) + 5));
  },
  listMapSwap: (rng, all) => {
    const containers = all.filter((s) => get(s) !== null && typeof get(s) === "object");
    const s = pick(rng, containers.length ? containers : all);
    const v = get(s);
    if (Array.isArray(v)) set(s, Object.fromEntries(v.map((x, i) => [String(i), x])));
    else if (v && typeof v === "object") set(s, Object.values(v));
  },
  unknownKey: (rng, all, root) => {
    const maps = all.map(get).filter((v) => v && typeof v === "object" && !Array.isArray(v));
    const m = (maps.length ? pick(rng, maps) : root) as Record<string, unknown>;
    if (m && typeof m === "object") m[pick(rng, KEYS)] = randomScalar(rng);
  },
  setNull: (rng, all) => set(pick(rng, all), null),
  manyItems: (rng, all, _root, textLength) => {
    // Short lists only: a thousand copies of a thousand items is megabytes, slow and no new path.
    const short = (v: unknown) => Array.isArray(v) && v.length > 0 && v.length <= 20;
    const lists = all.filter((s) => short(get(s)));
    if (!lists.length) return;
    const s = pick(rng, lists);
    const list = get(s) as unknown[];
    set(
      s,
      // At most about 1 MB more: cases of many megabytes only measure the yaml package's speed.
      Array.from({ length: Math.min(int(rng, 1000) + 100, Math.ceil(1e6 / (textLength + 1))) }, (_, i) =>
        structuredClone(list[i % list.length]),
      ),
    );
  },
  moveValue: (rng, all) => set(pick(rng, all), structuredClone(get(pick(rng, all)))),
};

/** Applies one tree mutation to one of the documents of `text`; the text back, re-serialised. */
function mutateTree(rng: Rng, text: string, names: string[]): string {
  if (text.length > 100_000) return text;
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length === 0) return text;
  let values: unknown[];
  try {
    values = docs.map((d) => d.toJS());
  } catch {
    return text;
  }
  const i = int(rng, values.length);
  const root = values[i];
  const all = slots(root);
  if (all.length === 0) return text;
  // Many copies of an already large tree make files of megabytes: slow to write, and no new path.
  const name = pick(
    rng,
    Object.keys(TREE_MUTATIONS).filter((m) => m !== "manyItems" || text.length < 20_000),
  );
  TREE_MUTATIONS[name]!(rng, all, root, text.length);
  names.push(name);
  return values.map((v) => stringify(v, { aliasDuplicateObjects: false })).join("---\n");
}

// ---------------------------------------------------------------- text and byte mutations

function aliasBomb(rng: Rng): string {
  // "Billion laughs": each level refers to the one before ten times.
  const levels = int(rng, 8) + 3;
  const lines = ['a0: &a0 ["lol"]'];
  for (let l = 1; l < levels; l++)
    lines.push(`a${l}: &a${l} [${Array.from({ length: 10 }, () => `*a${l - 1}`).join(", ")}]`);
  return lines.join("\n");
}

function garbage(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(rng, 256);
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

type TextMutation = (rng: Rng, text: string, other: string) => string;
const TEXT_MUTATIONS: Record<string, TextMutation> = {
  aliasBomb: (rng, text) => {
    const lines = text.split("\n");
    const bomb = aliasBomb(rng);
    const levels = bomb.split("\n").length;
    // As its own document, or as the value of a field of this one.
    if (rng() < 0.5) return `${text}\n---\n${bomb}\nlisteners: *a${levels - 1}\n`;
    const at = int(rng, lines.length);
    const line = lines[at] ?? "";
    const indent = line.match(/^\s*/)![0];
    const key = line.match(/^\s*(?:- )?([\w.-]+):/)?.[1];
    const anchors = bomb.replace(/^a(\d+): /gm, "");
    const refs = anchors.split("\n").map((a) => `${indent}  - ${a}`);
    if (key) lines.splice(at, 1, `${indent}${key}:`, ...refs);
    return lines.join("\n");
  },
  anchorAlias: (rng, text) => {
    // An alias to an anchor defined elsewhere, an undefined one, or a merge key.
    const lines = text.split("\n");
    const a = int(rng, lines.length);
    const b = int(rng, lines.length);
    lines[a] = lines[a]!.replace(/:\s(\S.*)$/, ": &x $1");
    lines[b] = lines[b]!.replace(/:\s(\S.*)$/, pick(rng, [": *x", ": *nope", ": { <<: *x }", ": [*x, *x]"]));
    return lines.join("\n");
  },
  truncate: (rng, text) => text.slice(0, int(rng, text.length)),
  tabs: (rng, text) => text.replace(/^( {2})+/gm, (m) => (rng() < 0.3 ? "\t".repeat(m.length / 2) : m)),
  duplicateLine: (rng, text) => {
    const lines = text.split("\n");
    const at = int(rng, lines.length);
    lines.splice(at, 0, lines[at]!);
    return lines.join("\n");
  },
  deleteLine: (rng, text) => {
    const lines = text.split("\n");
    lines.splice(int(rng, lines.length), 1);
    return lines.join("\n");
  },
  swapLines: (rng, text) => {
    const lines = text.split("\n");
    const a = int(rng, lines.length);
    const b = int(rng, lines.length);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    return lines.join("\n");
  },
  longLine: (rng, text) => {
    const at = int(rng, text.length);
    return `${text.slice(0, at)}${"y".repeat(int(rng, 500_000) + 1000)}${text.slice(at)}`;
  },
  deepFlow: (rng, text) => {
    // Nesting deeper than any config: the parser and every walk of the tree must survive it.
    const depth = pick(rng, [100, 1000, 5000, 20000]);
    const open = rng() < 0.5 ? "[" : "{a: ";
    const close = open === "[" ? "]" : "}";
    const deep = `${open.repeat(depth)}1${close.repeat(depth)}`;
    const lines = text.split("\n");
    const at = int(rng, lines.length);
    lines[at] = lines[at]!.replace(/:\s.*$/, `: ${deep}`);
    return lines.join("\n");
  },
  deepBlock: (rng, text) => {
    const depth = pick(rng, [50, 300, 1000]);
    const nested = Array.from({ length: depth }, (_, i) => `${" ".repeat(i)}- `).join("\n");
    return `${text}\nextra:\n${nested}x\n`;
  },
  charFlip: (rng, text) => {
    const chars = [...text];
    for (let n = int(rng, 5) + 1; n > 0; n--)
      chars[int(rng, chars.length)] = pick(rng, [
        ":",
        "-",
        "{",
        "[",
        "&",
        "*",
        "!",
        "|",
        ">",
        "'",
        '"',
        "#",
        "%",
        "@",
        "`",
        " ",
        "\n",
      ]);
    return chars.join("");
  },
  tagged: (rng, text) =>
    text.replace(
      /: (\S)/,
      `: ${pick(rng, ["!!binary ", "!!int ", "!!map ", "!!str ", "!custom ", "!!set ", "!!omap ", "!!timestamp "])}$1`,
    ),
  directives: (rng, text) =>
    `${pick(rng, ["%YAML 1.1\n---\n", "%YAML 9.9\n---\n", "%TAG ! tag:x,2000:\n---\n"])}${text}`,
  crlfBom: (rng, text) => (rng() < 0.5 ? `\uFEFF${text}` : text.replace(/\n/g, "\r\n")),
  mixDocuments: (rng, text, other) => {
    const docs = other.split(/^---$/m);
    const doc = pick(rng, docs);
    return rng() < 0.5 ? `${text}\n---\n${doc}` : `${doc}\n---\n${text}`;
  },
  emptyDocuments: (rng, text) => `---\n${rng() < 0.5 ? "" : "~\n"}---\n${text}\n---\n`,
  numbersInText: (rng, text) =>
    text.replace(
      /\b\d+\b/,
      pick(rng, ["1e400", ".nan", "-.inf", "0x7fffffff", "0o17", "99999999999999999999999", "1_000"]),
    ),
};

/** Byte mutations: the file stops being text, which the reader decodes as UTF-8 anyway. */
const BYTE_MUTATIONS: Record<string, (rng: Rng, bytes: Uint8Array) => Uint8Array> = {
  binaryGarbage: (rng, bytes) => {
    const at = int(rng, bytes.length + 1);
    return concat(bytes.subarray(0, at), garbage(rng, int(rng, 64) + 1), bytes.subarray(at));
  },
  onlyGarbage: (rng) => garbage(rng, int(rng, 4096)),
  invalidUtf8: (rng, bytes) => {
    const out = bytes.slice();
    for (let n = int(rng, 4) + 1; n > 0 && out.length; n--)
      out[int(rng, out.length)] = pick(rng, [0xc0, 0xff, 0x80, 0xed, 0xf8, 0x00]);
    return out;
  },
};

export interface Mutated {
  files: CaseFile[];
  /** The mutations applied, in order: for the report of a failure. */
  mutations: string[];
}

/**
 * `count` mutations applied to random files of the seed. `other` is the text of another seed,
 * for documents of other kinds mixed in.
 */
export function mutate(
  rng: Rng,
  seed: { name: string; text: string }[],
  other: string,
  count: number,
): Mutated {
  const texts = seed.map((f) => f.text);
  const bytes: (Uint8Array | undefined)[] = seed.map(() => undefined);
  const mutations: string[] = [];
  // Tree mutations first: re-serialising a tree made huge or deep by a text mutation would cost
  // the fuzzer more time than the case costs Portico.
  const plan = Array.from({ length: count }, () => ({ f: int(rng, texts.length), r: rng() }));
  plan.sort((a, b) => Number(a.r >= 0.55 || a.r < 0.1) - Number(b.r >= 0.55 || b.r < 0.1));
  for (const { f, r } of plan) {
    if (bytes[f] !== undefined || r < 0.1) {
      const name = pick(rng, Object.keys(BYTE_MUTATIONS));
      bytes[f] = BYTE_MUTATIONS[name]!(rng, bytes[f] ?? enc.encode(texts[f]!));
      mutations.push(`${seed[f]!.name}:${name}`);
    } else if (r < 0.55) {
      const names: string[] = [];
      texts[f] = mutateTree(rng, texts[f]!, names);
      mutations.push(...names.map((m) => `${seed[f]!.name}:${m}`));
    } else {
      const name = pick(rng, Object.keys(TEXT_MUTATIONS));
      texts[f] = TEXT_MUTATIONS[name]!(rng, texts[f]!, other);
      mutations.push(`${seed[f]!.name}:${name}`);
    }
  }
  return {
    files: seed.map((f, i) => ({ name: f.name, bytes: bytes[i] ?? enc.encode(texts[i]!) })),
    mutations,
  };
}

export { dec as utf8 };
