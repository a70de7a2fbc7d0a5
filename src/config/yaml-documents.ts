// The YAML documents of one config file, parsed the one way config/ parses them: no pretty
// errors (messages carry their own line), duplicate keys found in linear time
// (yaml-unique-keys.ts). Twice: at once, and in slices that let the event loop run between
// them, for a reload under traffic: the yaml package lexes and parses 10,000 hosts' worth of
// routes.yaml in seconds, all of it synchronous in parseAllDocuments.
import {
  type CST,
  type Document,
  Lexer,
  LineCounter,
  type Node,
  type Pair,
  Parser,
  type YAMLMap,
  isMap,
  parseAllDocuments,
} from "yaml";
import { Slices, runSliced, type Steps } from "../util/slices.ts";
import { composeSliced, composeTokens, itemStart } from "./yaml-compose-sliced.ts";
import { UNIQUE_KEYS_LATER, addDuplicateKeyErrors, duplicateKeySteps } from "./yaml-unique-keys.ts";

export interface ParsedText {
  docs: Document[];
  lineCounter: LineCounter;
  /** False when the text has no alias (or anchor, tag, directive) at all: nothing to expand. */
  aliases?: boolean;
  /** Where lexing started (parseYamlSliced): past 0 when the entries before were kept. */
  lexedFrom?: number;
}

const OPTIONS = { prettyErrors: false, ...UNIQUE_KEYS_LATER } as const;

export function parseYaml(text: string): ParsedText {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, ...OPTIONS });
  for (const doc of docs) addDuplicateKeyErrors(doc);
  return { docs, lineCounter };
}

/**
 * What parseYamlSliced keeps of one file's last parse: the top-level entries of its mapping,
 * each with its offset and source text. An entry whose text and offset are the same in the next
 * parse is taken as it is instead of being composed again: with 10,000 hosts, composing the
 * `listeners:` and `credentials:` entries took hundreds of milliseconds of one synchronous call,
 * for a reload that changed a route. Only for a file of one document with no anchor, alias,
 * tag, explicit key or directive (their meaning can reach across entries), and only from a parse
 * without errors.
 */
export class YamlReuse {
  /** The last text parsed without errors, and what it gave (another file of the load changed). */
  last?: { text: string; parsed: ParsedText };
  /** The text before the first entry. */
  prefix?: string;
  /** The last document's comment before its content (from the comments before the document). */
  commentBefore?: string | null;
  entries = new Map<number, { text: string; pair: Pair }>();
  /**
   * Of the last text's syntax tree, what lexing from its first changed entry needs: the document
   * and the top-level mapping without their content, where each entry starts and where its key
   * is, and the line starts. Not the entries' trees: at 10,000 hosts they held 50 MiB.
   */
  cst?: {
    doc: CST.Document;
    map: CST.BlockMap;
    starts: number[];
    keys: (number | undefined)[];
    lineStarts: number[];
  };
}

/**
 * What parseYaml returns, the same steps parseAllDocuments takes (Parser.parse and
 * Composer.compose, unrolled), pausing every few milliseconds (util/slices.ts). Composing a
 * document from its syntax tree is one call; with `reuse`, only the top-level entries that
 * changed since the last parse are composed (YamlReuse).
 */
export async function parseYamlSliced(text: string, reuse?: YamlReuse): Promise<ParsedText> {
  if (reuse?.last?.text === text) return reuse.last.parsed;
  const slices = new Slices();
  if (reuse !== undefined) {
    const tail = await lexTail(text, reuse, slices);
    const parsed = tail && (await composeLexed(text, tail, reuse, slices, true));
    if (parsed) return parsed;
  }
  const parsed = await composeLexed(text, await lexFrom(text, 0, [], slices), reuse, slices, false);
  return parsed!;
}

/** Tokens of a text, or of its end: the syntax tree, its line starts, whether it has marks. */
interface Lexed {
  tokens: CST.Token[];
  lineCounter: LineCounter;
  /** An anchor, alias, tag, explicit key or directive. */
  marks: boolean;
  /** Where each top-level entry starts and where its key is, when its tokens were not kept. */
  starts?: number[];
  keys?: (number | undefined)[];
  /** The offset lexing started at. */
  from: number;
}

/**
 * Lexes and parses `text` from `at` (a line start), the line starts before it given: tokens and
 * lines carry their offsets in the whole text.
 */
async function lexFrom(text: string, at: number, lineStarts: number[], slices: Slices): Promise<Lexed> {
  const lineCounter = new LineCounter();
  lineCounter.lineStarts = lineStarts;
  const parser = new Parser(lineCounter.addNewLine);
  // Parser.parse announces the first line itself before lexing.
  if (at === 0) lineCounter.addNewLine(0);
  parser.offset = at;
  const tokens: CST.Token[] = [];
  // Lexemes that start an anchor, alias, tag, explicit key or directive (a plain scalar cannot
  // start with one of these; quoted ones start with their quote).
  let marks = false;
  let n = 0;
  for (const lexeme of new Lexer().lex(at === 0 ? text : text.slice(at), false)) {
    const c = lexeme[0];
    if (c === "&" || c === "*" || c === "!" || c === "?" || c === "%") marks = true;
    for (const token of parser.next(lexeme)) tokens.push(token);
    if ((++n & 255) === 0) await slices.pause();
  }
  for (const token of parser.end()) tokens.push(token);
  await slices.pause();
  return { tokens, lineCounter, marks, from: at };
}

/**
 * The syntax tree of `text` with the top-level entries before its first change taken from the
 * last parse (YamlReuse.cst) and only the rest lexed: with 10,000 hosts, lexing the whole file
 * again was most of a reload that changed a route. Undefined when the last parse cannot be used
 * so: the change is in the first entry, or the text from the first changed entry on does not
 * start with a key at the start of a line (then it could continue the entry before it: a
 * compact sequence, a kept block scalar's blank lines).
 */
async function lexTail(text: string, reuse: YamlReuse, slices: Slices): Promise<Lexed | undefined> {
  const last = reuse.last?.text;
  const cst = reuse.cst;
  if (last === undefined || cst === undefined || reuse.entries.size === 0) return undefined;
  const same = commonPrefix(last, text);
  const ends = [...cst.starts.slice(1), last.length];
  // The entries wholly before the first change, each kept from the last parse.
  let k = 0;
  while (k < cst.starts.length && ends[k]! <= same) k++;
  if (k === 0) return undefined;
  for (let i = 0; i < k; i++) if (reuse.entries.get(cst.starts[i]!) === undefined) return undefined;
  // The changed entry from its key on (what comes before it, blank lines or comments, is the
  // same), or what follows the last entry.
  const at = k === cst.starts.length ? last.length : cst.keys[k];
  // Up to `at` the text is the same; the key there, at the start of a line, ends whatever the
  // entry before it held, in the new text as in the last.
  if (at === undefined || at > same || at === 0 || text[at - 1] !== "\n" || !/[\w"']/.test(text[at] ?? ""))
    return undefined;
  const tail = await lexFrom(text, at, cst.lineStarts.slice(0, linesUpTo(cst.lineStarts, at)), slices);
  const map = singleMapping(tail.tokens);
  const doc = tail.tokens.find((t): t is CST.Document => t.type === "document");
  if (map === undefined || doc === undefined || map.indent !== cst.map.indent) return undefined;
  const joined: CST.BlockMap = {
    ...map,
    offset: cst.map.offset,
    // The kept entries are found by their text (composeChanged), never composed from these.
    items: [...cst.starts.slice(0, k).map(() => ({ start: [], key: null, sep: [] })), ...map.items],
  };
  const starts = [...cst.starts.slice(0, k), cst.starts[k] ?? at, ...map.items.slice(1).map(itemStart)];
  const tokens: CST.Token[] = [{ ...doc, offset: cst.doc.offset, start: cst.doc.start, value: joined }];
  const keys = [...cst.keys.slice(0, k), ...map.items.map(keyAt)];
  return { tokens, lineCounter: tail.lineCounter, marks: tail.marks, starts, keys, from: at };
}

/** How many of the ascending `starts` are at or before `at`. */
function linesUpTo(starts: number[], at: number): number {
  let [low, high] = [0, starts.length];
  while (low < high) {
    const mid = (low + high) >> 1;
    if (starts[mid]! <= at) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** How many characters two texts share from the start, compared in blocks. */
function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  for (let step = 65536; step >= 1; step >>= 4)
    while (i + step <= n && a.slice(i, i + step) === b.slice(i, i + step)) i += step;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * The documents of lexed text, composing only the top-level entries that changed when it can.
 * `tailOnly`: the tree has entries kept from the last parse; undefined when the changed entries
 * alone do not compose cleanly (the caller then lexes the whole text).
 */
async function composeLexed(
  text: string,
  lexed: Lexed,
  reuse: YamlReuse | undefined,
  slices: Slices,
  tailOnly: boolean,
): Promise<ParsedText | undefined> {
  const { tokens, lineCounter, marks } = lexed;
  const plain = !marks && reuse !== undefined ? singleMapping(tokens) : undefined;
  const starts = plain && (lexed.starts ?? plain.items.map(itemStart));
  const partial =
    plain && (await runSliced(composeChanged(text, tokens, plain, starts!, reuse!, lexed.from), slices));
  if (tailOnly && !partial) return undefined;
  const docs = partial ? partial.docs : await runSliced(composeWhole(tokens, text.length, marks), slices);
  for (const doc of docs) await runSliced(duplicateKeySteps(doc, partial ? partial.kept : undefined), slices);
  const parsed = { docs, lineCounter, aliases: marks, lexedFrom: lexed.from };
  if (reuse) {
    const clean = docs.every((d) => d.errors.length === 0);
    reuse.last = clean ? { text, parsed } : undefined;
    const doc = tokens.find((t): t is CST.Document => t.type === "document");
    if (plain && clean && docs.length === 1 && doc) {
      remember(text, plain, starts!, docs[0]!, reuse);
      reuse.cst = {
        doc: { ...doc, value: undefined },
        map: { ...plain, items: [] },
        starts: starts!,
        keys: lexed.keys ?? plain.items.map(keyAt),
        lineStarts: lineCounter.lineStarts,
      };
    } else {
      reuse.entries.clear();
      reuse.cst = undefined;
    }
  }
  return parsed;
}

/**
 * The documents of a syntax tree, in pieces when it is one large block collection without marks
 * (yaml-compose-sliced.ts); in one call otherwise, or when a piece has an error or warning.
 */
function* composeWhole(tokens: CST.Token[], end: number, marks: boolean): Steps<Document[]> {
  const docs = marks ? undefined : yield* composeSliced(tokens, end, OPTIONS);
  return docs ?? composeTokens(tokens, OPTIONS);
}

/** The document's top-level block mapping, when the file is that one document (and comments). */
function singleMapping(tokens: CST.Token[]): CST.BlockMap | undefined {
  let map: CST.BlockMap | undefined;
  for (const t of tokens) {
    if (t.type === "document" && map === undefined && t.value?.type === "block-map") map = t.value;
    else if (t.type !== "comment" && t.type !== "newline" && t.type !== "space") return undefined;
  }
  return map !== undefined && map.items.length > 0 ? map : undefined;
}

/** Where a top-level entry's key is. */
function keyAt(item: CST.BlockMap["items"][number]): number | undefined {
  return (item.key ?? item.sep?.[0] ?? item.value)?.offset;
}

/** Each top-level entry's start and its text up to the next one (the last: to the end). */
function spans(text: string, starts: number[]): { at: number; text: string }[] {
  return starts.map((at, i) => ({ at, text: text.slice(at, starts[i + 1] ?? text.length) }));
}

/**
 * The document composed from the entries that changed, with the others taken from the last
 * parse; undefined when nothing can be reused or the changed entries alone compose with any
 * error or warning (then the whole document is composed, as without reuse).
 */
function* composeChanged(
  text: string,
  tokens: CST.Token[],
  map: CST.BlockMap,
  starts: number[],
  reuse: YamlReuse,
  lexedFrom: number,
): Steps<{ docs: Document[]; kept: Set<Pair> } | undefined> {
  const at = spans(text, starts);
  if (reuse.prefix !== text.slice(0, at[0]!.at)) return undefined;
  const kept: Pair[] = [];
  const fresh: Pair[] = [];
  let doc: Document | undefined;
  for (const [i, item] of map.items.entries()) {
    const last = reuse.entries.get(at[i]!.at);
    if (last !== undefined && last.text === at[i]!.text) {
      kept.push(last.pair);
      continue;
    }
    // Alone, as the mapping's first entry at its own offset: the yaml package measures some
    // checks from the end of the entry before (an implicit key at most 1024 characters before
    // its `:`).
    const alone = { ...map, offset: at[i]!.at, items: [item] };
    // The comments before the document go to the first entry's key (or to the document): not
    // to a later entry's.
    const from = i === 0 ? 0 : tokens.findIndex((t) => t.type === "document");
    const aloneTokens = tokens.slice(from).map((t) => (t.type === "document" ? { ...t, value: alone } : t));
    // In pieces (an entry of 10,000 servers took 100–450 ms in one call).
    const end = at[i + 1]?.at ?? text.length;
    const docs = (yield* composeSliced(aloneTokens, end, OPTIONS)) ?? composeTokens(aloneTokens, OPTIONS);
    const d = docs[0];
    if (docs.length !== 1 || d!.errors.length > 0 || d!.warnings.length > 0 || !isMap(d!.contents))
      return undefined;
    const pairs = d!.contents.items as Pair[];
    // Lexed from its key on (lexTail): the comments and blank lines before the key, the same text
    // as in the last parse, gave its key what they give it now.
    if (at[i]!.at < lexedFrom && lexedFrom < (at[i + 1]?.at ?? text.length)) {
      const before = reuse.entries.get(at[i]!.at)?.pair.key as Node | null | undefined;
      const key = pairs[0]?.key as Node | null | undefined;
      if (!before || !key) return undefined;
      if (before.commentBefore) key.commentBefore = before.commentBefore;
      if (before.spaceBefore) key.spaceBefore = true;
    }
    fresh.push(...pairs);
    if (doc === undefined && i > 0) {
      // The first entry is kept, and with it the comment before the document where it went.
      d!.commentBefore = reuse.commentBefore ?? null;
    }
    doc ??= d;
  }
  if (kept.length === 0 || doc === undefined) return undefined;
  const root = doc.contents as YAMLMap;
  const start = (p: Pair) => (p.key as Node | null)?.range?.[0] ?? (p.value as Node | null)?.range?.[0] ?? 0;
  root.items = [...fresh, ...kept].sort((a, b) => start(a) - start(b));
  const end = (root.items.at(-1)!.value as Node | null)?.range?.[2] ?? root.range![2];
  root.range = [map.offset, end, end];
  if (doc.range) doc.range = [doc.range[0], end, Math.max(doc.range[2], end)];
  return { docs: [doc], kept: new Set(kept) };
}

/** Each top-level entry with its pair, for the next parse (an entry without `:` makes none). */
function remember(text: string, map: CST.BlockMap, starts: number[], doc: Document, reuse: YamlReuse): void {
  const at = spans(text, starts);
  const pairs = isMap(doc.contents) ? (doc.contents.items as Pair[]) : [];
  reuse.entries.clear();
  reuse.prefix = text.slice(0, at[0]!.at);
  reuse.commentBefore = doc.commentBefore;
  let p = 0;
  map.items.forEach((item, i) => {
    if (item.sep === undefined) return;
    const pair = pairs[p++];
    if (pair) reuse.entries.set(at[i]!.at, { text: at[i]!.text, pair });
  });
  if (p !== pairs.length) reuse.entries.clear();
}
