// The YAML documents of one config file, parsed the one way config/ parses them: no pretty
// errors (messages carry their own line), duplicate keys found in linear time
// (yaml-unique-keys.ts). Twice: at once, and in slices that let the event loop run between
// them, for a reload under traffic: the yaml package lexes and parses 10,000 hosts' worth of
// routes.yaml in seconds, all of it synchronous in parseAllDocuments.
import {
  Composer,
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
import { Slices } from "../util/slices.ts";
import { UNIQUE_KEYS_LATER, addDuplicateKeyErrors } from "./yaml-unique-keys.ts";

export interface ParsedText {
  docs: Document[];
  lineCounter: LineCounter;
  /** False when the text has no alias (or anchor, tag, directive) at all: nothing to expand. */
  aliases?: boolean;
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
  entries = new Map<number, { text: string; pair: Pair }>();
}

/**
 * What parseYaml returns, the same steps parseAllDocuments takes (Parser.parse and
 * Composer.compose, unrolled), pausing every few milliseconds (util/slices.ts). Composing a
 * document from its syntax tree is one call; with `reuse`, only the top-level entries that
 * changed since the last parse are composed (YamlReuse).
 */
export async function parseYamlSliced(text: string, reuse?: YamlReuse): Promise<ParsedText> {
  if (reuse?.last?.text === text) return reuse.last.parsed;
  const lineCounter = new LineCounter();
  const parser = new Parser(lineCounter.addNewLine);
  const tokens: CST.Token[] = [];
  // Parser.parse announces the first line itself before lexing.
  lineCounter.addNewLine(0);
  const slices = new Slices();
  // Lexemes that start an anchor, alias, tag, explicit key or directive (a plain scalar cannot
  // start with one of these; quoted ones start with their quote).
  let marks = false;
  let n = 0;
  for (const lexeme of new Lexer().lex(text, false)) {
    const c = lexeme[0];
    if (c === "&" || c === "*" || c === "!" || c === "?" || c === "%") marks = true;
    for (const token of parser.next(lexeme)) tokens.push(token);
    if ((++n & 255) === 0) await slices.pause();
  }
  for (const token of parser.end()) tokens.push(token);
  await slices.pause();
  const plain = !marks && reuse !== undefined ? singleMapping(tokens) : undefined;
  const partial = plain && composeChanged(text, tokens, plain, reuse!);
  const docs = partial ? partial.docs : compose(tokens);
  await slices.pause();
  for (const doc of docs) addDuplicateKeyErrors(doc, partial ? partial.kept : undefined);
  const parsed = { docs, lineCounter, aliases: marks };
  if (reuse) {
    const clean = docs.every((d) => d.errors.length === 0);
    reuse.last = clean ? { text, parsed } : undefined;
    if (plain && clean && docs.length === 1) remember(text, plain, docs[0]!, reuse);
    else reuse.entries.clear();
  }
  return parsed;
}

function compose(tokens: CST.Token[]): Document[] {
  const composer = new Composer(OPTIONS);
  const docs: Document[] = [];
  for (const token of tokens) for (const doc of composer.next(token)) docs.push(doc);
  for (const doc of composer.end(false, -1)) docs.push(doc);
  return docs;
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

/** Where each top-level entry starts, and its text up to the next one (the last: to the end). */
function spans(text: string, map: CST.BlockMap): { at: number; text: string }[] {
  const starts = map.items.map(
    (item) => (item.start[0] ?? item.key ?? item.sep?.[0] ?? item.value)?.offset ?? map.offset,
  );
  return starts.map((at, i) => ({ at, text: text.slice(at, starts[i + 1] ?? text.length) }));
}

/**
 * The document composed from the entries that changed, with the others taken from the last
 * parse; undefined when nothing can be reused or the changed entries alone compose with any
 * error or warning (then the whole document is composed, as without reuse).
 */
function composeChanged(
  text: string,
  tokens: CST.Token[],
  map: CST.BlockMap,
  reuse: YamlReuse,
): { docs: Document[]; kept: Set<Pair> } | undefined {
  const at = spans(text, map);
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
    const docs = compose(tokens.map((t) => (t.type === "document" ? { ...t, value: alone } : t)));
    const d = docs[0];
    if (docs.length !== 1 || d!.errors.length > 0 || d!.warnings.length > 0 || !isMap(d!.contents))
      return undefined;
    fresh.push(...(d!.contents.items as Pair[]));
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
function remember(text: string, map: CST.BlockMap, doc: Document, reuse: YamlReuse): void {
  const at = spans(text, map);
  const pairs = isMap(doc.contents) ? (doc.contents.items as Pair[]) : [];
  reuse.entries.clear();
  reuse.prefix = text.slice(0, at[0]!.at);
  let p = 0;
  map.items.forEach((item, i) => {
    if (item.sep === undefined) return;
    const pair = pairs[p++];
    if (pair) reuse.entries.set(at[i]!.at, { text: at[i]!.text, pair });
  });
  if (p !== pairs.length) reuse.entries.clear();
}
