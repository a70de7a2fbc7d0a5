// A closed HTTP/2 connection leaves nothing behind on any runtime: Node's and Deno's node:http2
// keep a destroyed session (with its sockets) until its idle timer fires, 300 s with Portico's
// default idle timeout, unless clearTimerOnDestroy clears it first (h2-session-timer.ts). Real
// sessions over loopback TLS in a child process of each runtime; gc and a FinalizationRegistry
// count what survives. Without the fix, node and deno both report every session alive.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DENO, DENO_ENV, ROOT } from "../../scripts/runtimes.ts";
import { book } from "../helpers/book.ts";

const DRIVER = join(ROOT, "test/helpers/h2-session-retention.mjs");
const MODULE = join(ROOT, "src/listeners/_shared/h2-session-timer.ts");
const SESSIONS = 30;

function run(cmd: string[], helper: string): { sessions: number; closed: number; alive: number } {
  const args = [DRIVER, book.webappCert, book.webappKey, book.webappCaChain, String(SESSIONS), helper];
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), ...args], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, ...DENO_ENV },
  });
  if (r.status !== 0) throw new Error(`${cmd[0]} exited ${r.status ?? r.signal}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

describe("closed h2 sessions are collected", () => {
  const all = { sessions: SESSIONS, closed: SESSIONS, alive: 0 };

  test("node", () => {
    // Node runs JavaScript: the module transpiled, as the Node bundle carries it.
    const dir = mkdtempSync(join(tmpdir(), "portico-h2-timer-"));
    try {
      const js = new Bun.Transpiler({ loader: "ts" }).transformSync(readFileSync(MODULE, "utf8"));
      const helper = join(dir, "h2-session-timer.mjs");
      writeFileSync(helper, js);
      expect(run(["node", "--expose-gc"], helper)).toEqual(all);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  test("deno", () => {
    expect(run([DENO, "run", "-A", "--quiet", "--v8-flags=--expose-gc"], MODULE)).toEqual(all);
  }, 40_000);

  test("bun", () => {
    expect(run([process.execPath], MODULE)).toEqual(all);
  }, 40_000);
});
