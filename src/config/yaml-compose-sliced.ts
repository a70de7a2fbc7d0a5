// Composing a large YAML document from its syntax tree in pieces, with a pause allowed between
// them: the yaml package composes a document in one call, which at 10,000 hosts held the event
// loop for 100–450 ms per changed top-level entry on a reload (docs/architecture.md, "Reload").
// A block mapping or sequence is built here piece by piece: runs of small items are composed
// together as the content of a document of their own, and a large item's block value the same
// way, recursively, then put in the place an empty stand-in held. Each piece goes through the
// package's own code with the state the whole document would give it (the offset its collection
// had reached before it; no anchor, tag or alias, which the caller rules out), so the nodes are
// those one compose gives. Any error or warning in a piece: undefined, and the caller composes
// the document in one call, so messages and positions are the package's own.

import { Composer, type CST, type Document, type Pair, YAMLMap, YAMLSeq, isMap, isPair, isSeq } from "yaml";
import type { Steps } from "../util/slices.ts";

type Block = CST.BlockMap | CST.BlockSequence;
type Item = CST.BlockMap["items"][number];
type Collection = YAMLMap<unknown, unknown> | YAMLSeq<unknown>;
type Options = ConstructorParameters<typeof Composer>[0];

/**
 * The source characters composed in one call, at most (bar one item): under a millisecond. Tests
 * set a few characters, so that every item is a piece and every nested collection is split.
 */
export const pieces = { chars: 4096 };

/** The documents of a syntax tree, in one call. */
export function composeTokens(tokens: CST.Token[], options: Options): Document[] {
  const composer = new Composer(options);
  const docs: Document[] = [];
  for (const token of tokens) for (const doc of composer.next(token)) docs.push(doc);
  for (const doc of composer.end(false, -1)) docs.push(doc);
  return docs;
}

/** Where a collection item starts: its first token (a comment or `-` before its key or value). */
export function itemStart(item: Item | CST.BlockSequence["items"][number]): number {
  const i = item as Item;
  return (i.start[0] ?? i.key ?? i.sep?.[0] ?? i.value)?.offset ?? 0;
}

/**
 * The one document of `tokens` (comments and blank lines around it aside) whose content is a
 * block mapping or sequence, composed in pieces; `end`: where the content ends at most (the
 * text's length). Undefined when the tokens are not such a document, or a piece has an error
 * or warning: then compose them in one call. The caller rules out anchors, tags, aliases and
 * directives (an alias's anchor may be in another piece).
 */
export function* composeSliced(
  tokens: CST.Token[],
  end: number,
  options: Options,
): Steps<Document[] | undefined> {
  let doc: CST.Document | undefined;
  for (const t of tokens) {
    if (t.type === "document" && doc === undefined) doc = t;
    else if (t.type !== "comment" && t.type !== "newline" && t.type !== "space") return undefined;
  }
  const root = doc?.value;
  if (doc === undefined || !isBlock(root) || root.items.length === 0 || mayHoldNoNode(root, root.items[0]!))
    return undefined;
  // The first piece is composed in the document itself: the comments before it go to its first
  // item, and the document's range and end follow its content.
  let head: Document | undefined;
  const first = (piece: Block) => {
    head = clean(
      composeTokens(
        tokens.map((t) => (t === doc ? { ...doc, value: piece } : t)),
        options,
      ),
    );
    return head;
  };
  const contents = yield* build(root, end, first, options);
  if (contents === undefined || head === undefined) return undefined;
  const [from, to, after] = head.range!;
  const contentEnd = contents.range![2];
  head.range = [from, contentEnd, contentEnd + after - to];
  return [head];
}

function isBlock(token: CST.Token | null | undefined): token is Block {
  return token?.type === "block-map" || token?.type === "block-seq";
}

/** An item that may give no node (a comment at the collection's indent): a piece of its own. */
function mayHoldNoNode(c: Block, item: Item | CST.BlockSequence["items"][number]): boolean {
  return c.type === "block-seq" ? !item.value : !(item as Item).sep;
}

function clean(docs: Document[]): Document | undefined {
  const d = docs[0];
  return docs.length === 1 && d!.errors.length === 0 && d!.warnings.length === 0 ? d : undefined;
}

/** A block collection as a document's whole content (what nesting adds comes from its parent). */
function composeAlone(piece: Block, options: Options): Document | undefined {
  return clean(composeTokens([{ type: "document", offset: piece.offset, start: [], value: piece }], options));
}

/**
 * The collection `c`, whose items end by `end`, composed piece by piece (`first` composes the
 * first piece). As the package's resolveBlockMap/resolveBlockSeq: each item starts from where the
 * one before ended; a comment item sets the collection's comment (a sequence keeps the last, a
 * mapping joins them) and the end of its range.
 */
function* build(
  c: Block,
  end: number,
  first: (piece: Block) => Document | undefined,
  options: Options,
): Steps<Collection | undefined> {
  let out: Collection | undefined;
  let offset = c.offset;
  let commentEnd: number | null = null;
  let piece: Item[] = [];
  let size = 0;
  const flush = (): boolean => {
    if (piece.length === 0) return true;
    const single = piece.length === 1;
    const d =
      out === undefined
        ? first({ ...c, offset, items: piece } as Block)
        : composeAlone({ ...c, offset, items: piece } as Block, options);
    piece = [];
    size = 0;
    const coll = d?.contents;
    if (!(isMap(coll) || isSeq(coll))) return false;
    if (out === undefined) out = coll;
    else {
      (out.items as unknown[]).push(...coll.items);
      if (coll.comment)
        out.comment = isSeq(out) || !out.comment ? coll.comment : `${out.comment}\n${coll.comment}`;
    }
    if (single && coll.items.length === 0) commentEnd = coll.range![2];
    offset = coll.range![1];
    return true;
  };
  const items = c.items as Item[];
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const to = i + 1 < items.length ? itemStart(items[i + 1]!) : end;
    if (mayHoldNoNode(c, item)) {
      if (!flush()) return undefined;
      piece = [item];
      if (!flush()) return undefined;
      yield;
      continue;
    }
    const value = item.value;
    const big = isBlock(value) && to - value.offset > pieces.chars;
    // A large value's place is held by an empty collection of its kind, which takes the props
    // (comment before, blank line before) the real one then gets.
    piece.push(big ? ({ ...item, value: { ...value, items: [] } } as Item) : item);
    size += to - itemStart(item);
    if (!big && size < pieces.chars && i + 1 < items.length) continue;
    if (!flush()) return undefined;
    if (big) {
      const inner = yield* build(value, to, (p) => composeAlone(p, options), options);
      const last = out!.items.at(-1) as Pair | Collection;
      const holder = (isPair(last) ? last.value : last) as Collection;
      if (inner === undefined || !(isMap(holder) || isSeq(holder))) return undefined;
      if (holder.spaceBefore) inner.spaceBefore = true;
      if (holder.commentBefore) inner.commentBefore = holder.commentBefore;
      if (isPair(last)) last.value = inner;
      else (out!.items as unknown[])[out!.items.length - 1] = inner;
      offset = inner.range![2];
    }
    yield;
  }
  if (out === undefined) return undefined;
  // resolveBlockMap's IMPOSSIBLE error.
  if (isMap(out) && commentEnd && commentEnd < offset) return undefined;
  out.range = [c.offset, offset, commentEnd ?? offset];
  return out;
}
