// Walks the relative imports under a folder and finds cycles, of files and of folders. A folder
// cycle (config → istio → config) is as much a tangle as a file cycle: it means neither folder
// can be read, tested or replaced without the other. docs/architecture.md has the intended order.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export interface ImportGraph {
  /** file (relative to the root) → the files it imports (relative to the root) */
  edges: Map<string, string[]>;
}

const IMPORT = /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?["'](\.{1,2}\/[^"']+)["']/g;

export function readImportGraph(root: string): ImportGraph {
  const base = resolve(root);
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith(".ts")) files.push(path);
    }
  };
  walk(base);
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(IMPORT)].map((m) => {
      const target = resolve(dirname(file), m[1]!).replace(/\.js$/, ".ts");
      return relative(base, target.endsWith(".ts") ? target : `${target}.ts`);
    });
    edges.set(relative(base, file), [...new Set(targets)]);
  }
  return { edges };
}

/** Strongly connected components of more than one node (Tarjan), each sorted. */
function cycles(edges: Map<string, Iterable<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

export function fileCycles(graph: ImportGraph): string[][] {
  return cycles(graph.edges);
}

/** Folder cycles, each with the file imports that make it. */
export function folderCycles(graph: ImportGraph): { folders: string[]; imports: string[] }[] {
  const folderEdges = new Map<string, Set<string>>();
  for (const [file, targets] of graph.edges) {
    const from = dirname(file);
    if (!folderEdges.has(from)) folderEdges.set(from, new Set());
    for (const target of targets) {
      if (graph.edges.has(target) && dirname(target) !== from) folderEdges.get(from)!.add(dirname(target));
    }
  }
  return cycles(folderEdges).map((folders) => ({
    folders,
    imports: [...graph.edges].flatMap(([file, targets]) =>
      targets
        .filter((t) => graph.edges.has(t) && dirname(t) !== dirname(file))
        .filter((t) => folders.includes(dirname(file)) && folders.includes(dirname(t)))
        .map((t) => `${file} → ${t}`),
    ),
  }));
}

if (import.meta.main) {
  const graph = readImportGraph(process.argv[2] ?? "src");
  const files = fileCycles(graph);
  const folders = folderCycles(graph);
  for (const c of files) console.log(`file cycle: ${c.join(" ↔ ")}`);
  for (const c of folders) console.log(`folder cycle: ${c.folders.join(" ↔ ")}\n  ${c.imports.join("\n  ")}`);
  if (files.length + folders.length === 0) console.log(`no import cycles among ${graph.edges.size} files`);
  process.exit(files.length + folders.length === 0 ? 0 : 1);
}
