// Which JavaScript runtime is executing us. Only composition code (cli, upstream factory,
// listener selection) asks; everything else is written against Web APIs.
export type RuntimeName = "bun" | "deno" | "node";

export function currentRuntime(): RuntimeName {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  return "node";
}
