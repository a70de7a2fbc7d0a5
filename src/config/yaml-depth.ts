// A bound on how deep a YAML document may nest, checked before it is turned into data. No
// configuration is more than a dozen levels deep; a document nested thousands deep (a mistake,
// or a hostile file) would otherwise overflow the stack in the yaml package's toJS, or cost
// seconds in its `visit`, which copies the path at every level.
import { isCollection, isPair, type Document, type LineCounter } from "yaml";

/** Far beyond any Portico or Istio document (a VirtualService header match is 8 levels deep). */
export const MAX_YAML_DEPTH = 64;

/** The 1-based line of the first collection nested deeper than MAX_YAML_DEPTH; 0 when none is. */
export function tooDeepLine(doc: Document, lineCounter: LineCounter): number {
  // An explicit stack: a recursive walk would overflow on the very documents it looks for.
  const stack: [unknown, number][] = [[doc.contents, 1]];
  while (stack.length > 0) {
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
