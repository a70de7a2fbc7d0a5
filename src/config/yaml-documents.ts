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
  isCollection,
  isMap,
  isNode,
  isPair,
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
  /** Where it stopped, when the entries after were kept, moved (parseYamlSliced). */
  lexedTo?: number;
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
 * parse (or whose text is, after the last change, moved by it) is taken as it is instead of
 * being composed again: with 10,000 hosts, composing the
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
  /** The last document's comment after its content, and its range: the end of the file's. */
  comment?: string | null;
  range?: [number, number, number];
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
  /**
   * The entries from index `from` on were not lexed: the last parse's, the same text moved by
   * `delta` characters (an edit before them changed the length).
   */
  moved?: { from: number; delta: number };
}

/**
 * Lexes and parses `text` from `at` (a line start), the line starts before it given: tokens and
 * lines carry their offsets in the whole text.
 */
async function lexFrom(
  text: string,
  at: number,
  lineStarts: number[],
  slices: Slices,
  end = text.length,
): Promise<Lexed> {
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
  const part = at === 0 && end === text.length ? text : text.slice(at, end);
  for (const lexeme of new Lexer().lex(part, false)) {
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
 * last parse (YamlReuse.cst), and those after its last change too, moved by the change of
 * length: only the entries between are lexed. With 10,000 hosts, lexing the whole file again was
 * most of a reload that changed a route, and an edit near the top (a setting) moved every entry
 * after it. Undefined when the last parse cannot be used so: nothing before or after the change
 * is whole entries, or the text at either edge of the lexed part does not start with a key at
 * the start of a line (then it could continue the entry before it: a compact sequence, a kept
 * block scalar's blank lines).
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
  // Text added right after entry k - 1 that does not start a key (a line more in `settings:`)
  // belongs to that entry: it changed too.
  const boundary = k === cst.starts.length ? last.length : cst.keys[k];
  if (k > 0 && boundary === same && !keyAtLineStart(text, same)) k--;
  for (let i = 0; i < k; i++) if (reuse.entries.get(cst.starts[i]!) === undefined) return undefined;
  const moved = movedEntries(last, text, same, k, cst, reuse);
  if (k === 0 && moved === undefined) return undefined;
  // The changed entry from its key on (what comes before it, blank lines or comments, is the
  // same), or what follows the last entry; from the start of the text when the first changed.
  const at = k === 0 ? 0 : k === cst.starts.length ? last.length : cst.keys[k];
  // Up to `at` the text is the same; the key there, at the start of a line, ends whatever the
  // entry before it held, in the new text as in the last.
  if (at === undefined || at > same || (k > 0 && !keyAtLineStart(text, at))) return undefined;
  const end = moved ? cst.starts[moved.from]! + moved.delta : text.length;
  if (end <= at) return undefined;
  const lineStarts = cst.lineStarts.slice(0, linesUpTo(cst.lineStarts, at));
  const tail = await lexFrom(text, at, k === 0 ? [] : lineStarts, slices, end);
  const map = singleMapping(tail.tokens);
  const doc = tail.tokens.find((t): t is CST.Document => t.type === "document");
  if (map === undefined || doc === undefined || map.indent !== cst.map.indent) return undefined;
  // The kept and moved entries are found by their text (composeChanged), never composed from these.
  const stand = () => ({ start: [], key: null, sep: [] });
  const after = moved ? cst.starts.length - moved.from : 0;
  const shift = (xs: (number | undefined)[]) =>
    moved ? xs.slice(moved.from).map((x) => (x === undefined ? x : x + moved.delta)) : [];
  const joined: CST.BlockMap = {
    ...map,
    offset: k === 0 ? map.offset : cst.map.offset,
    items: [...cst.starts.slice(0, k).map(stand), ...map.items, ...Array.from({ length: after }, stand)],
  };
  const starts = [
    ...cst.starts.slice(0, k),
    ...(k === 0 ? [] : [cst.starts[k] ?? at]),
    ...map.items.slice(k === 0 ? 0 : 1).map(itemStart),
    ...(shift(cst.starts) as number[]),
  ];
  const value =
    k === 0
      ? { ...doc, value: joined }
      : { ...doc, offset: cst.doc.offset, start: cst.doc.start, value: joined };
  const keys = [...cst.keys.slice(0, k), ...map.items.map(keyAt), ...shift(cst.keys)];
  if (moved) {
    // The moved entries' lines, where lexing stopped.
    const lines = tail.lineCounter.lineStarts;
    for (const l of cst.lineStarts.slice(linesUpTo(cst.lineStarts, cst.starts[moved.from]! - 1)))
      if (l + moved.delta > (lines.at(-1) ?? -1)) lines.push(l + moved.delta);
  }
  const from = k + map.items.length;
  return {
    // From the start, the comments before the document too.
    tokens: k === 0 ? tail.tokens.map((t) => (t === doc ? value : t)) : [value],
    lineCounter: tail.lineCounter,
    marks: tail.marks,
    starts,
    keys,
    from: at,
    ...(moved ? { moved: { from, delta: moved.delta } } : {}),
  };
}

/**
 * The line before `at` is blank or only a comment: the key at `at` takes those as its
 * `spaceBefore` and `commentBefore`, which a moved key, kept from the last parse, would not.
 */
function bareLineBefore(text: string, at: number): boolean {
  const line = text.slice(text.lastIndexOf("\n", at - 2) + 1, at - 1);
  return /^\s*(#|$)/.test(line);
}

/** A key at the start of a line: it ends whatever the entry before it held. */
function keyAtLineStart(text: string, at: number): boolean {
  return at > 0 && text[at - 1] === "\n" && /[\w"']/.test(text[at] ?? "");
}

/**
 * The last parse's entries that the change left whole after it, only moved: the first of them
 * (its index in the last parse) and how far they moved. Undefined when there are none, or the
 * first does not start with its key at the start of a line in both texts.
 */
function movedEntries(
  last: string,
  text: string,
  same: number,
  k: number,
  cst: NonNullable<YamlReuse["cst"]>,
  reuse: YamlReuse,
): { from: number; delta: number } | undefined {
  const delta = text.length - last.length;
  // The common end, not reaching into the common start of either text.
  const tail = commonSuffix(last, text, Math.min(last.length, text.length) - same);
  let m = k + 1;
  while (m < cst.starts.length && cst.starts[m]! < last.length - tail) m++;
  if (m >= cst.starts.length) return undefined;
  const at = cst.starts[m]!;
  const edge = (t: string, key: number) => keyAtLineStart(t, key) && !bareLineBefore(t, key);
  if (cst.keys[m] !== at || !edge(last, at) || !edge(text, at + delta)) return undefined;
  for (let i = m; i < cst.starts.length; i++)
    if (reuse.entries.get(cst.starts[i]!) === undefined) return undefined;
  return { from: m, delta };
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

/** How many characters two texts share at their end, at most `most`, compared in blocks. */
function commonSuffix(a: string, b: string, most: number): number {
  const n = Math.min(a.length, b.length, most);
  let i = 0;
  for (let step = 65536; step >= 1; step >>= 4)
    while (
      i + step <= n &&
      a.slice(a.length - i - step, a.length - i) === b.slice(b.length - i - step, b.length - i)
    )
      i += step;
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
    plain &&
    (await runSliced(composeChanged(text, tokens, plain, starts!, reuse!, lexed.from, lexed.moved), slices));
  if (tailOnly && !partial) return undefined;
  const docs = partial ? partial.docs : await runSliced(composeWhole(tokens, text.length, marks), slices);
  for (const doc of docs) await runSliced(duplicateKeySteps(doc, partial ? partial.kept : undefined), slices);
  const parsed: ParsedText = { docs, lineCounter, aliases: marks, lexedFrom: lexed.from };
  if (partial && lexed.moved) parsed.lexedTo = lexed.starts![lexed.moved.from];
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
  moved?: Lexed["moved"],
): Steps<{ docs: Document[]; kept: Set<Pair> } | undefined> {
  const at = spans(text, starts);
  if (reuse.prefix !== text.slice(0, at[0]!.at)) return undefined;
  const kept: Pair[] = [];
  const fresh: Pair[] = [];
  const shifted: Pair[] = [];
  let doc: Document | undefined;
  let ending: Document | undefined;
  for (const [i, item] of map.items.entries()) {
    const move = moved !== undefined && i >= moved.from;
    const last = reuse.entries.get(move ? at[i]!.at - moved.delta : at[i]!.at);
    if (move && last?.text !== at[i]!.text) return undefined;
    if (move && moved.delta !== 0) shifted.push(last!.pair);
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
    if (i === map.items.length - 1) ending = d;
  }
  if (kept.length === 0 || doc === undefined) return undefined;
  // Only now, when the result is certain: the last parse's nodes take their new places.
  for (const pair of shifted) yield* shiftSteps(pair, moved!.delta);
  const root = doc.contents as YAMLMap;
  const start = (p: Pair) => (p.key as Node | null)?.range?.[0] ?? (p.value as Node | null)?.range?.[0] ?? 0;
  root.items = [...fresh, ...kept].sort((a, b) => start(a) - start(b));
  const end = (root.items.at(-1)!.value as Node | null)?.range?.[2] ?? root.range![2];
  root.range = [map.offset, end, end];
  // What follows the last entry (comments) ends the document: composed with the last entry when
  // that was composed, else the last parse's, moved as that entry was.
  if (ending !== undefined) {
    doc.comment = ending.comment;
    if (doc.range) doc.range = [doc.range[0], end, Math.max(ending.range?.[2] ?? end, end)];
  } else {
    const delta = moved?.delta ?? 0;
    doc.comment = reuse.comment ?? null;
    if (doc.range && reuse.range) doc.range = [doc.range[0], reuse.range[1] + delta, reuse.range[2] + delta];
  }
  return { docs: [doc], kept: new Set(kept) };
}

/** Moves every node under `pair` by `delta` characters, pausing now and then. */
function* shiftSteps(pair: Pair, delta: number): Steps<void> {
  const stack: unknown[] = [pair.key, pair.value];
  let n = 0;
  while (stack.length > 0) {
    const node = stack.pop();
    if (isPair(node)) stack.push(node.key, node.value);
    else if (isNode(node)) {
      const r = node.range;
      if (r) node.range = [r[0] + delta, r[1] + delta, r[2] + delta];
      if (isCollection(node)) for (const item of node.items) stack.push(item);
    }
    if ((++n & 1023) === 0) yield;
  }
}

/** Each top-level entry with its pair, for the next parse (an entry without `:` makes none). */
function remember(text: string, map: CST.BlockMap, starts: number[], doc: Document, reuse: YamlReuse): void {
  const at = spans(text, starts);
  const pairs = isMap(doc.contents) ? (doc.contents.items as Pair[]) : [];
  reuse.entries.clear();
  reuse.prefix = text.slice(0, at[0]!.at);
  reuse.commentBefore = doc.commentBefore;
  reuse.comment = doc.comment;
  reuse.range = doc.range ? [...doc.range] : undefined;
  let p = 0;
  map.items.forEach((item, i) => {
    if (item.sep === undefined) return;
    const pair = pairs[p++];
    if (pair) reuse.entries.set(at[i]!.at, { text: at[i]!.text, pair });
  });
  if (p !== pairs.length) reuse.entries.clear();
}
