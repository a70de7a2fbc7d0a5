// How to run Portico on each runtime, in one place for the tests (test/helpers/portico.ts), the
// benchmark (scripts/bench.ts) and the release build (build.ts): Bun and Deno run src/main.ts
// as it is, Node runs one bundled ESM file (as users of `npx portico` do), the binary is the
// `bun build --compile` executable.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
export const ENTRY = join(ROOT, "src/main.ts");
export const BUN = process.versions.bun ? process.execPath : join(ROOT, "node_modules/.bin/bun");
export const DENO = join(ROOT, "node_modules/.bin/deno");
/** The executable `npm run build` writes for this machine. */
export const BINARY = join(ROOT, "dist/portico-linux-x64");

export const RUNTIMES = ["bun", "deno", "node"] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Deno must neither look for updates nor stop to ask for a permission. */
export const DENO_ENV: Record<string, string> = { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" };

/**
 * Bun.build options of the Node bundle: ESM, because src/main.ts awaits at top level
 * (package.json says "type": "module", so a .js bundle is ESM too).
 */
export const NODE_BUNDLE = { entrypoints: [ENTRY], target: "node", format: "esm" } as const;

/** The same bundle as a `bun build` command line, for callers that do not run inside Bun. */
export function nodeBundleCommand(outfile: string): string[] {
  const { target, format } = NODE_BUNDLE;
  return [BUN, "build", `--target=${target}`, `--format=${format}`, ENTRY, "--outfile", outfile];
}

/** Bundles src/main.ts for Node into `outfile`; throws with bun's output when it fails. */
export function buildNodeBundle(outfile: string): string {
  const [cmd, ...args] = nodeBundleCommand(outfile);
  const r = spawnSync(cmd!, args, { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`bundling for node failed (exit ${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`);
  }
  return outfile;
}

export interface Where {
  /** The Node bundle (buildNodeBundle); required for "node". */
  nodeBundle?: string;
  /** The node binary (default: `node` on PATH). */
  node?: string;
  /** The compiled executable (default BINARY). */
  binary?: string;
}

/** The command line that runs `portico <args>` on `runtime`. */
export function porticoCommand(runtime: Runtime | "binary", args: string[], where: Where = {}): string[] {
  switch (runtime) {
    case "bun":
      return [BUN, ENTRY, ...args];
    case "deno":
      return [DENO, "run", "-A", "--quiet", ENTRY, ...args];
    case "node":
      if (!where.nodeBundle) throw new Error("porticoCommand: node needs the bundle (buildNodeBundle)");
      return [where.node ?? "node", where.nodeBundle, ...args];
    case "binary":
      return [where.binary ?? BINARY, ...args];
  }
}
