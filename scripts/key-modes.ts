// The repository's demo private keys check out as 0644 (git keeps no other mode), which Portico
// rightly warns about (src/provision/key-file-mode.ts). The test preload (bunfig.toml) and
// `npm start` (demo.ts) set them as an operator should keep them, 0600, once per run.
import { chmodSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const KEY = /(\.key|key\.pem)$/;

function walk(dir: string, depth: number): void {
  if (depth > 8) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, depth + 1);
    else if (entry.isFile() && KEY.test(entry.name) && (statSync(path).mode & 0o077) !== 0)
      chmodSync(path, 0o600);
  }
}

if (process.platform !== "win32") for (const dir of ["certs", "test/fixtures"]) walk(join(ROOT, dir), 0);
