// `npm run build` (bun build.ts): Portico's release artifacts in dist/.
//
//   dist/portico-<os>-<arch>[.exe]  single executables (`bun build --compile --minify --bytecode`). Bun fetches
//                                   the runtime of a foreign target from the npm registry
//                                   (@oven/bun-<os>-<arch>) into ~/.bun/install/cache once.
//   dist/portico.js                 one ESM file for Node >= 20 (`node dist/portico.js`, package "bin")
//   dist/portico-deno               `deno compile`, which needs denort from dl.deno.land: skipped
//                                   when that is unreachable
//
// Options:
//   --only a,b   build only these artifacts (repeatable): linux-x64 linux-arm64 darwin-x64
//                darwin-arm64 windows-x64 node deno
//
// A cross target that fails is reported as skipped with its reason; the build fails (exit 1) only
// when linux-x64 or the Node bundle fails. The version comes from package.json and is injected
// with `define` (src/cli/version.ts); the executables also say they are compiled:
// `portico 0.1.0 (bun 1.4.5, compiled)`.

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { DENO, ENTRY, NODE_BUNDLE, ROOT, porticoCommand } from "./scripts/runtimes.ts";

const DIST = join(ROOT, "dist");
const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;

const EXECUTABLES = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "windows-x64"] as const;
type Executable = (typeof EXECUTABLES)[number];
const ALL = [...EXECUTABLES, "node", "deno"] as const;
type Artifact = (typeof ALL)[number];
/** A failure of one of these fails the build; the others are skipped with their reason. */
const REQUIRED: ReadonlySet<Artifact> = new Set(["linux-x64", "node"]);

interface Row {
  artifact: string;
  file?: string;
  status: "ok" | "skipped" | "FAILED";
  detail: string;
  required: boolean;
}

function usage(message: string): never {
  process.stderr.write(`build.ts: ${message}\nusage: bun build.ts [--only ${ALL.join(",")}]\n`);
  process.exit(2);
}

function parseOnly(argv: string[]): Artifact[] {
  const picked: Artifact[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let value: string | undefined;
    if (a === "--only") value = argv[++i];
    else if (a.startsWith("--only=")) value = a.slice("--only=".length);
    else if (a === "-h" || a === "--help") usage("builds Portico's executables and bundles into dist/");
    else usage(`unknown argument ${a}`);
    if (!value) usage("--only needs a list of artifacts");
    for (const name of value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (!(ALL as readonly string[]).includes(name)) usage(`unknown artifact "${name}"`);
      if (!picked.includes(name as Artifact)) picked.push(name as Artifact);
    }
  }
  return picked.length > 0 ? ALL.filter((a) => picked.includes(a)) : [...ALL];
}

/** The first useful line of an error or build log, without ANSI colours. */
function reason(text: string): string {
  const clean = text.replace(/\x1b\[[0-9;]*m/g, "").trim();
  const lines = clean
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return (
    lines.find((l) => /error|fail|unable|cannot|not found/i.test(l)) ??
    lines[0] ??
    "unknown error"
  ).slice(0, 300);
}

function run(cmd: string, args: string[], timeoutMs: number) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, error: r.error };
}

async function buildExecutable(target: Executable): Promise<Row> {
  const file = join(DIST, `portico-${target}${target.startsWith("windows") ? ".exe" : ""}`);
  const row: Row = {
    artifact: `bun-${target}`,
    file,
    status: "FAILED",
    detail: "",
    required: REQUIRED.has(target),
  };
  rmSync(file, { force: true }); // never report a stale file from an earlier build
  try {
    const result = await Bun.build({
      entrypoints: [ENTRY],
      compile: {
        target: `bun-${target}` as Bun.Build.CompileTarget,
        outfile: file,
        // A proxy must not pick up a stray .env or bunfig.toml from the directory it runs in.
        autoloadDotenv: false,
        autoloadBunfig: false,
      },
      minify: true,
      // Precompiled JavaScriptCore bytecode: `run` reaches "serving" in ~60 ms instead of ~100 ms
      // for +4 MB. ESM because src/main.ts awaits at top level (bytecode defaults to CommonJS).
      bytecode: true,
      format: "esm",
      define: { PORTICO_VERSION: JSON.stringify(VERSION), PORTICO_BUILD: JSON.stringify("compiled") },
      throw: false,
    });
    if (!result.success || !existsSync(file)) {
      row.status = row.required ? "FAILED" : "skipped";
      row.detail = reason(result.logs.map((l) => String(l.message ?? l)).join("\n") || "no output written");
      return row;
    }
  } catch (err) {
    row.status = row.required ? "FAILED" : "skipped";
    row.detail = reason(err instanceof AggregateError ? err.errors.map(String).join("\n") : String(err));
    return row;
  }
  row.status = "ok";
  if (target === hostTarget()) {
    // The one we can run here: it must start and name itself.
    const [cmd, ...args] = porticoCommand("binary", ["version"], { binary: file });
    const v = run(cmd!, args, 15_000);
    const line = v.out.trim();
    if (v.code !== 0 || !line.includes(`portico ${VERSION} (bun`) || !line.includes("compiled")) {
      row.status = "FAILED";
      row.detail = `\`${relative(ROOT, file)} version\` exited ${v.code}: ${reason(v.out || String(v.error))}`;
    } else row.detail = line;
  } else row.detail = `cross-compiled with bun ${Bun.version}`;
  return row;
}

function hostTarget(): Executable | undefined {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const t = `${os}-${process.arch}`;
  return (EXECUTABLES as readonly string[]).includes(t) ? (t as Executable) : undefined;
}

async function buildNode(): Promise<Row> {
  const file = join(DIST, "portico.js");
  const row: Row = { artifact: "node bundle", file, status: "FAILED", detail: "", required: true };
  rmSync(file, { force: true });
  const result = await Bun.build({
    ...NODE_BUNDLE,
    entrypoints: [...NODE_BUNDLE.entrypoints],
    outdir: DIST,
    naming: "portico.js",
    define: { PORTICO_VERSION: JSON.stringify(VERSION) },
    throw: false,
  });
  if (!result.success || !existsSync(file)) {
    row.detail = reason(result.logs.map((l) => String(l.message ?? l)).join("\n") || "no output written");
    return row;
  }
  // The entry's `#!/usr/bin/env bun` line is carried over; the bundle is for node.
  let code = readFileSync(file, "utf8");
  code = code.replace(/^#![^\n]*\n/, "");
  writeFileSync(file, `#!/usr/bin/env node\n${code}`);
  chmodSync(file, 0o755);

  const [nodeCmd, ...nodeArgs] = porticoCommand("node", ["version"], { nodeBundle: file });
  const node = run(nodeCmd!, nodeArgs, 30_000);
  if (node.error && (node.error as NodeJS.ErrnoException).code === "ENOENT") {
    row.status = "ok";
    row.detail = "node not installed here: not run";
  } else if (node.code !== 0 || !node.out.includes(`portico ${VERSION} (node`)) {
    row.detail = `\`node ${relative(ROOT, file)} version\` exited ${node.code}: ${reason(node.out || String(node.error))}`;
  } else {
    row.status = "ok";
    row.detail = node.out.trim();
  }
  return row;
}

function buildDeno(): Row {
  const file = join(DIST, "portico-deno");
  const row: Row = { artifact: "deno compile", file, status: "skipped", detail: "", required: false };
  rmSync(file, { force: true });
  const deno = DENO;
  if (!existsSync(deno)) {
    row.detail = "node_modules/.bin/deno is missing (npm ci installs it)";
    return row;
  }
  // --no-check: type checking is `npm run typecheck`'s job, and Deno's checker rejects the
  // Bun-only fetch options in src/upstream/ (TS2769).
  const r = run(deno, ["compile", "-A", "--no-check", "--output", file, ENTRY], 180_000);
  if (r.code === 0 && existsSync(file)) {
    row.status = "ok";
    row.detail = `deno compile ${reason(run(deno, ["--version"], 10_000).out)}`;
    return row;
  }
  if (
    /dl\.deno\.land|denort/i.test(r.out) &&
    /dns|connect|lookup|network|timed out|error sending request/i.test(r.out)
  ) {
    row.detail =
      "deno compile needs denort from dl.deno.land, unreachable here; run `deno run -A src/main.ts`";
  } else {
    row.detail = `deno compile exited ${r.code ?? r.error}: ${reason(r.out || String(r.error))}`;
  }
  return row;
}

function printTable(rows: Row[]): void {
  const cells = rows.map((r) => [
    r.file && r.status === "ok" ? relative(ROOT, r.file) : r.artifact,
    r.file && r.status === "ok" && existsSync(r.file) ? (statSync(r.file).size / 1_000_000).toFixed(1) : "-",
    r.status,
    r.detail,
  ]);
  const head = ["artifact", "size MB", "status", "detail"];
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i === 1 ? v.padStart(width[i]!) : v.padEnd(width[i]!))).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${width.map((w, i) => (i === 1 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`);
  for (const c of cells) console.log(line(c));
}

const wanted = parseOnly(process.argv.slice(2));
mkdirSync(DIST, { recursive: true });
const started = performance.now();
const rows: Row[] = [];
for (const a of wanted) {
  const t0 = performance.now();
  const row = a === "node" ? await buildNode() : a === "deno" ? buildDeno() : await buildExecutable(a);
  rows.push(row);
  process.stderr.write(`[build] ${row.artifact}: ${row.status} (${Math.round(performance.now() - t0)} ms)\n`);
}
console.log(
  `\nportico ${VERSION}, built with bun ${Bun.version} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
);
printTable(rows);
const failed = rows.filter((r) => r.status === "FAILED");
if (failed.length > 0) {
  console.error(`\nbuild failed: ${failed.map((r) => r.artifact).join(", ")}`);
  process.exit(1);
}
