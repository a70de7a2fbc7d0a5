// `bun scripts/bench-config-load.ts [--hosts 10000] [--runs 3]`: how long a reload's config load
// holds the event loop when it edits a large routes.yaml, in process (no listener, no
// provisioning). For each edit, each run: a fresh ComposeCache (src/cli/config-files.ts) loads
// the bench:scale config of N hosts twice (as startup and a reload that changes nothing would),
// then the edited text with that cache, while a 1 ms interval timer records the longest gap
// between its ticks and the process's CPU time in that gap (garbage-collector threads
// included). Edits:
//   add       one more server in the listener and one more credential (bench:scale's add-host)
//   settings  a value in `settings:`, the first entry (everything after it moves)
//   cred      one credential's path, in the middle of `credentials:` (what follows moves)
// Output: one line per edit and run: longest gap (ms, CPU ms in it), the load's time and CPU.
// Credential files are named, not read (provisioning reads them): none need to exist.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ComposeCache, loadSources } from "../src/cli/config-files.ts";

type Edit = "base" | "add" | "settings" | "cred";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

/** bench:scale's config (scripts/bench-scale.ts writeConfig), with one edit. */
function config(n: number, edit: Edit): string {
  const count = edit === "add" ? n + 1 : n;
  const lines = [
    "settings:",
    edit === "settings" ? "  admin: 127.0.0.1:15999" : "  admin: off",
    "listeners:",
    "  - name: tls",
    "    address: 127.0.0.1",
    "    port: 18443",
    "    protocol: HTTPS",
    "    servers:",
  ];
  for (let i = 0; i < count; i++)
    lines.push(`      - { hosts: [h${i}.scale.test], tls: { credential: c${i} } }`);
  lines.push("credentials:");
  for (let i = 0; i < count; i++) {
    const j = edit === "cred" && i === Math.floor(n / 2) ? 12 : i;
    lines.push(`  c${i}: { cert: /certs/h${j}.crt, key: /certs/h${j}.key }`);
  }
  lines.push(
    "routes:",
    '  - hosts: ["*"]',
    "    http:",
    '      - directResponse: { status: 200, body: "one" }',
  );
  return `${lines.join("\n")}\n`;
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function run(file: string, n: number, edit: Edit): Promise<string> {
  const cache = new ComposeCache();
  writeFileSync(file, config(n, "base"));
  await loadSources([file], {}, cache);
  await loadSources([file], {}, cache);
  writeFileSync(file, config(n, edit));
  let last = performance.now();
  let lastCpu = cpu();
  let gap = 0;
  let gapCpu = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const c = cpu();
    if (now - last > gap) [gap, gapCpu] = [now - last, c - lastCpu];
    [last, lastCpu] = [now, c];
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  gap = 0;
  const [t0, c0] = [performance.now(), cpu()];
  await loadSources([file], {}, cache);
  const [t1, c1] = [performance.now(), cpu()];
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  const ms = (x: number) => x.toFixed(1);
  return `longest gap ${ms(gap)} ms (CPU ${ms(gapCpu)} ms), load ${ms(t1 - t0)} ms, CPU ${ms(c1 - c0)} ms`;
}

const n = flag("hosts", 10_000);
const runs = flag("runs", 3);
const dir = mkdtempSync(join(tmpdir(), "portico-config-load-"));
try {
  for (let r = 0; r < runs; r++)
    for (const edit of ["add", "settings", "cred"] as const)
      console.log(`${edit} (${n} hosts) run ${r + 1}: ${await run(join(dir, "routes.yaml"), n, edit)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
