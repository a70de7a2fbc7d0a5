// Maps a field path back to the line it was written on, so messages can say `routes.yaml:7`.

import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node,
  type Pair,
  type YAMLMap,
} from "yaml";

export type FieldPath = readonly (string | number)[];

/** `listeners[1].servers[0].tls.mode`; keys that are not plain names are quoted: `services["a.b"]`. */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/**
 * 1-based line of the deepest node along `path` that exists, 0 when even the document is empty.
 * A missing field therefore points at its parent. For mapping entries the key's line is used:
 * a block value starts on the next line, but the reader looks for the key.
 */
export function locateLine(doc: Document, lineCounter: LineCounter, path: FieldPath): number {
  let node: unknown = doc.contents;
  let line = lineOf(node, lineCounter);
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = pairByKey(node).get(String(key));
      if (!pair) break;
      line = lineOf(pair.key, lineCounter) || line;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key];
      if (node == null) break;
      line = lineOf(node, lineCounter) || line;
    } else {
      break;
    }
  }
  return line;
}

/**
 * A mapping's pairs by scalar key, the first of equal keys winning (as a search from the top
 * finds it), made once per mapping: every credential, service and route asks for its own line,
 * and a search of the mapping for each would be quadratic in its size.
 */
const indexes = new WeakMap<YAMLMap, Map<string, Pair>>();
function pairByKey(map: YAMLMap): Map<string, Pair> {
  let index = indexes.get(map);
  if (index === undefined) {
    index = new Map();
    for (const item of map.items) {
      if (!isScalar(item.key)) continue;
      const k = String(item.key.value);
      if (!index.has(k)) index.set(k, item as Pair);
    }
    indexes.set(map, index);
  }
  return index;
}

function lineOf(node: unknown, lineCounter: LineCounter): number {
  const range = (node as Node | null | undefined)?.range;
  return range ? lineCounter.linePos(range[0]).line : 0;
}
