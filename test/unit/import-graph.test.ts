// The layering of src/ holds: no file imports itself round a circle, and neither does a folder
// (docs/architecture.md, "The layers"). scripts/import-graph.ts prints the cycles it finds.
import { describe, expect, test } from "bun:test";
import { fileCycles, folderCycles, readImportGraph } from "../../scripts/import-graph.ts";

describe("imports of src/", () => {
  const graph = readImportGraph("src");

  test("the walk sees the whole tree", () => {
    expect(graph.edges.size).toBeGreaterThan(50);
    expect(graph.edges.get("cli/main.ts")).toContain("gateway/start-gateway.ts");
  });

  test("no file cycles", () => {
    expect(fileCycles(graph)).toEqual([]);
  });

  test("no folder cycles", () => {
    expect(folderCycles(graph)).toEqual([]);
  });

  test("a cycle is found when there is one", () => {
    const edges = new Map([
      ["a/x.ts", ["b/y.ts"]],
      ["b/y.ts", ["a/z.ts"]],
      ["a/z.ts", []],
    ]);
    expect(fileCycles({ edges })).toEqual([]);
    expect(folderCycles({ edges }).map((c) => c.folders)).toEqual([["a", "b"]]);
    edges.set("a/z.ts", ["a/x.ts"]);
    expect(fileCycles({ edges })).toEqual([["a/x.ts", "a/z.ts", "b/y.ts"]]);
  });
});
