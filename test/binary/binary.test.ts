// The single executable (`bun build.ts`, dist/portico-linux-x64) as a user runs it: it names its
// version and runtime, and replays the walkthrough's step 1.3 (SIMPLE TLS by name, h2, 200).
// Builds the executable first when it is missing or older than the sources.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { WEBAPP_BODY, startDemoUpstreams, type DemoUpstreams } from "../../scripts/demo-upstreams.ts";
import { BOOK_GATEWAYS, HOST_WEBAPP, book, bookRoutesYaml } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { ROOT, writeConfig } from "../helpers/portico.ts";
import { BINARY, BUN } from "../../scripts/runtimes.ts";

const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
const BUILD_TIMEOUT_MS = 120_000;

/** Newest modification time among the files the executable is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(ROOT, "src"));
  for (const f of ["package.json", "build.ts", "scripts/runtimes.ts"])
    newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return newest;
}

interface Started {
  proc: ChildProcess;
  output(): string;
  /** Milliseconds from spawn to the " serving " log line. */
  startMs: number;
  stop(): Promise<number | null>;
}

/** startPortico (test/helpers/portico.ts) for an arbitrary command: spawn, wait for " serving ". */
async function startCommand(cmd: string, args: string[], timeoutMs = 15_000): Promise<Started> {
  const t0 = performance.now();
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
  let out = "";
  let servingAt = 0;
  const onData = (d: Buffer) => {
    out += d;
    if (!servingAt && / serving /.test(out)) servingAt = performance.now();
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const deadline = Date.now() + timeoutMs;
  while (!servingAt) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`${cmd} exited with ${proc.exitCode ?? proc.signalCode} before serving:\n${out}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${cmd} did not start in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { proc, output: () => out, startMs: servingAt - t0, stop };
}

// npm test (scripts/test.ts) runs this folder once, apart from the per-runtime e2e runs. The
// executable built here is linux-x64; elsewhere the test says so by skipping.
const SKIP = process.platform !== "linux" || process.arch !== "x64";

describe.skipIf(SKIP)("the compiled executable (dist/portico-linux-x64)", () => {
  let upstreams: DemoUpstreams | undefined;
  let portico: Started | undefined;

  beforeAll(async () => {
    if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < newestSource()) {
      const t0 = performance.now();
      const r = spawnSync(BUN, ["build.ts", "--only", "linux-x64"], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: BUILD_TIMEOUT_MS - 5_000,
      });
      if (r.status !== 0 || !existsSync(BINARY))
        throw new Error(
          `bun build.ts --only linux-x64 failed (${r.status ?? r.error}):\n${r.stdout}${r.stderr}`,
        );
      console.log(`[binary] built dist/portico-linux-x64 in ${Math.round(performance.now() - t0)} ms`);
    }
    upstreams = await startDemoUpstreams();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await portico?.stop();
    await upstreams?.close();
  });

  test("version names the package version, bun and that it is compiled", () => {
    const r = spawnSync(BINARY, ["version"], { encoding: "utf8", timeout: 15_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^portico \d+\.\d+\.\d+ \(bun \d+\.\d+\.\d+, compiled\)\n$/);
    expect(r.stdout).toStartWith(`portico ${VERSION} (bun `);
  });

  test("walkthrough 1.3: curl by name with --resolve gets TLS 1.3, h2, 200 and the 357-byte JSON", async () => {
    const [http, https] = await freePorts(2);
    const yaml = bookRoutesYaml(BOOK_GATEWAYS.tls, { http: http!, https: https! }, upstreams!);
    portico = await startCommand(BINARY, ["run", "-c", writeConfig(yaml)]);
    console.log(`[binary] dist/portico-linux-x64: spawn → "serving" in ${portico.startMs.toFixed(1)} ms`);
    expect(portico.output()).toContain("compiled) serving");

    const r = await curl([
      "-v",
      `https://${HOST_WEBAPP}:${https}/api/catalog`,
      "--cacert",
      book.webappCaChain,
      "--resolve",
      `${HOST_WEBAPP}:${https}:127.0.0.1`,
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
    expect(r.httpVersion).toBe("2");
    expect(r.body).toBe(WEBAPP_BODY);
    expect(Buffer.byteLength(r.body)).toBe(357);
    expect(r.headers.get("content-length")).toBe("357");
    expect(r.headers.get("server")).toBe("portico");
    expect(r.stderr).toContain("SSL connection using TLSv1.3");
    expect(r.stderr).toContain("ALPN: server accepted h2");
    expect(r.stderr).toContain("SSL certificate verify ok");

    const t = performance.now();
    expect(await portico.stop()).toBe(0);
    console.log(`[binary] SIGTERM → exit in ${(performance.now() - t).toFixed(0)} ms`);
    portico = undefined;
  });

  // The executable's node:cluster workers are the executable again (worker-process.ts).
  test("--workers 2: both workers of the executable answer", async () => {
    const [http] = await freePorts(1);
    const yaml = `listeners:\n  - { name: web, address: 127.0.0.1, port: ${http}, protocol: HTTP }\nroutes:\n  - hosts: ["*"]\n    http:\n      - directResponse: { status: 200, body: { string: up } }\n`;
    const file = writeConfig(yaml);
    process.env.PORTICO_DEBUG_WORKER = "1";
    try {
      portico = await startCommand(BINARY, ["run", "-c", file, "--workers", "2", "--admin", "off"]);
    } finally {
      delete process.env.PORTICO_DEBUG_WORKER;
    }
    expect(portico.output()).toContain("2 workers");
    const seen = new Set<string>();
    for (let i = 0; i < 100 && seen.size < 2; i++) {
      const r = await fetch(`http://127.0.0.1:${http}/`, { headers: { connection: "close" } });
      await r.text();
      seen.add(r.headers.get("x-portico-worker") ?? "none");
    }
    expect([...seen].sort()).toEqual(["0", "1"]);
    expect(await portico.stop()).toBe(0);
    portico = undefined;
  }, 30_000);
});
