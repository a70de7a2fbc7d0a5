// Bounds on the shape of a YAML document, checked before it is turned into data: how deep it
// nests, and how far its aliases expand. No configuration is more than a dozen levels deep or
// repeats an anchor thousands of times; a document that does (a mistake, or a hostile file)
// would otherwise overflow the stack in the yaml package's toJS, or cost seconds in its `visit`
// and `Alias.resolve`, which walk the whole document, copying the path at every level, once
// per alias. The yaml package's own bound (maxAliasCount, 100) refuses a "billion laughs" only
// after those walks.
import {
  isAlias,
  isCollection,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node,
} from "yaml";
import { runAtOnce, type Steps } from "../util/slices.ts";

/** Far beyond any Portico or Istio document (a VirtualService header match is 8 levels deep). */
export const MAX_YAML_DEPTH = 64;

/** The 1-based line of the first collection nested deeper than MAX_YAML_DEPTH; 0 when none is. */
export function tooDeepLine(doc: Document, lineCounter: LineCounter): number {
  return runAtOnce(tooDeepSteps(doc, lineCounter));
}

/** tooDeepLine, pausing (`yield`) every few thousand nodes (util/slices.ts). */
export function* tooDeepSteps(doc: Document, lineCounter: LineCounter): Steps<number> {
  // An explicit stack: a recursive walk would overflow on the very documents it looks for.
  const stack: [unknown, number][] = [[doc.contents, 1]];
  let n = 0;
  while (stack.length > 0) {
    if ((++n & 4095) === 0) yield;
    const [node, depth] = stack.pop()!;
    if (isPair(node)) {
      stack.push([node.value, depth], [node.key, depth]);
    } else if (isCollection(node)) {
      if (depth > MAX_YAML_DEPTH) return lineCounter.linePos(node.range?.[0] ?? 0).line;
      for (const item of node.items) stack.push([item, depth + 1]);
    }
  }
  return 0;
}

export const TOO_DEEP = `nested more than ${MAX_YAML_DEPTH} levels deep; no configuration needs that many`;

/**
 * Values that aliases may add to a document; far beyond reusing an anchor in a few places. Once
 * this holds, toJS may run without the yaml package's own count (TO_JS).
 */
export const MAX_ALIAS_EXPANSION = 10_000;

export const ALIAS_BOMB =
  `aliases expand to more than ${MAX_ALIAS_EXPANSION} values, or into themselves; refused as a ` +
  `resource exhaustion attack ("billion laughs")`;

/**
 * The 1-based line of the first alias when the aliases expand to more than MAX_ALIAS_EXPANSION
 * values; 0 when they don't. Recursive: call it on a document tooDeepLine accepted.
 */
export function aliasBombLine(doc: Document, lineCounter: LineCounter): number {
  const anchors = new Map<string, unknown>(); // the last node with each anchor, as yaml resolves
  const sizes = new Map<unknown, number>();
  let expansion = 0;
  let firstAlias = -1;
  const size = (node: unknown): number => {
    if (isPair(node)) return size(node.key) + size(node.value);
    if (isAlias(node)) {
      if (firstAlias < 0) firstAlias = node.range?.[0] ?? 0;
      const target = anchors.get(node.source);
      // An alias inside the node its anchor names would expand for ever (yaml makes a cycle).
      const n = target === undefined ? 1 : (sizes.get(target) ?? Number.POSITIVE_INFINITY);
      expansion += n;
      return n;
    }
    if (!isNode(node)) return 0;
    if (node.anchor) anchors.set(node.anchor, node);
    let n = 1;
    if (isCollection(node))
      for (const item of node.items) {
        n += size(item);
        if (expansion > MAX_ALIAS_EXPANSION) return n;
      }
    sizes.set(node, n);
    return n;
  };
  size(doc.contents);
  return expansion > MAX_ALIAS_EXPANSION ? lineCounter.linePos(firstAlias).line : 0;
}

/**
 * The line of the first alias without an anchor before it, or else of the first alias, or else
 * of the first merge key (`<<`, YAML 1.1): where to point when the yaml package's toJS refuses
 * the aliases or a merge. One walk with an explicit stack, not `Alias.resolve` per alias (a walk
 * of the whole document each).
 */
export function aliasLine(doc: Document, lineCounter: LineCounter): number {
  const anchors = new Map<string, number>(); // name → offset of its first definition
  const aliases: { source: string; at: number }[] = [];
  let firstMerge: number | undefined;
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isPair(node)) {
      stack.push(node.value, node.key);
      if (isScalar(node.key) && node.key.source === "<<") firstMerge ??= node.key.range?.[0];
    }
    if (!isNode(node)) continue;
    const at = node.range?.[0] ?? 0;
    if (isAlias(node)) aliases.push({ source: node.source, at });
    else if (node.anchor && !anchors.has(node.anchor)) anchors.set(node.anchor, at);
    if (isCollection(node)) for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
  }
  if (aliases.length === 0) return firstMerge === undefined ? 0 : lineCounter.linePos(firstMerge).line;
  aliases.sort((a, b) => a.at - b.at);
  const unresolved = aliases.find((a) => !((anchors.get(a.source) ?? Number.POSITIVE_INFINITY) < a.at));
  return lineCounter.linePos((unresolved ?? aliases[0]!).at).line;
}

/**
 * toJS options for a document aliasBombLine accepted: the yaml package's maxAliasCount walks the
 * whole document once per alias nested in an anchor before it refuses anything (seconds on a
 * large file); the expansion is already bounded.
 */
export const TO_JS = { maxAliasCount: -1 } as const;

/** Collections whose source is shorter than this are converted in one toJS call. */
const TO_JS_PIECE_CHARS = 2048;

/**
 * `node.toJS(doc, TO_JS)` for a node of a document without aliases, pausing (`yield`) between
 * the items of its large collections: `listeners:` with 10,000 servers took 30–40 ms in one call.
 * A mapping is converted so only when its keys are distinct plain strings other than
 * `__proto__` and `<<` (which toJS treats apart); then the object is the one toJS gives.
 */
export function* toJsSteps(node: unknown, doc: Document): Steps<unknown> {
  if (small(node)) return isNode(node) ? node.toJS(doc, TO_JS) : node;
  if (isSeq(node)) {
    const out: unknown[] = [];
    let since = 0;
    for (const item of node.items) {
      if (!small(item)) out.push(yield* toJsSteps(item, doc));
      else out.push(isNode(item) ? item.toJS(doc, TO_JS) : item);
      since += size(item);
      if (since >= TO_JS_PIECE_CHARS) {
        since = 0;
        yield;
      }
    }
    return out;
  }
  if (!isMap(node)) return (node as Node).toJS(doc, TO_JS);
  const keys = new Set<string>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== "string" || key === "__proto__" || key === "<<" || keys.has(key))
      return node.toJS(doc, TO_JS);
    keys.add(key);
  }
  const out: Record<string, unknown> = {};
  let since = 0;
  for (const pair of node.items) {
    const value = pair.value;
    out[(pair.key as { value: string }).value] = small(value)
      ? isNode(value)
        ? value.toJS(doc, TO_JS)
        : value
      : yield* toJsSteps(value, doc);
    since += size(value);
    if (since >= TO_JS_PIECE_CHARS) {
      since = 0;
      yield;
    }
  }
  return out;
}

/** Converted in one toJS call: not a node, or shorter than TO_JS_PIECE_CHARS in the source. */
function small(node: unknown): boolean {
  const range = isNode(node) ? node.range : undefined;
  return !range || range[1] - range[0] < TO_JS_PIECE_CHARS;
}

/** A node's length in the source, and a little for the conversion of any item. */
function size(node: unknown): number {
  const range = isNode(node) ? node.range : undefined;
  return 16 + (range ? range[1] - range[0] : 0);
}
