// `npm run bench`: Portico beside a direct upstream on loopback, two cores.
//
//   CPU 0: Portico (HTTPS listener, webapp SIMPLE; HTTPS mTLS listener, webapp MUTUAL)
//   CPU 1: upstream (nginx if installed, else the bun demo webapp) and the load generators
//
// Measures, like ../shared/bench/bench.sh does:
//   H1  wrk -t1 -c50 -d${DURATION}s --latency   (direct: plain HTTP; portico: HTTP/1.1 over TLS)
//   H2  h2load -t1 -c10 -m10 -D ${DURATION} --warm-up-time=1   (direct: h2c, nginx only; portico: h2 over TLS)
// Load generators run in a private mount namespace whose /etc/hosts maps webapp.istioinaction.io
// to 127.0.0.1 (wrk has no --resolve), so SNI and Host carry the real name.
//
// Env: DURATION (seconds, default 10), WARMUP (seconds, default 2), BENCH_UPSTREAM=bun to skip nginx.
// Output: a Markdown table on stdout, also written to .bench/results-<stamp>.md.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { WEBAPP_BODY } from "./demo-upstreams.ts";

const REPO = resolve(import.meta.dir, "..");
const CERTS = join(REPO, "certs");
const HOST = "webapp.istioinaction.io";
const PATH = "/api/catalog";
const DURATION = positiveInt("DURATION", 10);
const WARMUP = positiveInt("WARMUP", 2);
const PROXY_CPU = "0";
const LOADGEN_CPU = "1";
const BUN = process.versions.bun ? process.execPath : join(REPO, "node_modules/.bin/bun");

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) fail(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

class BenchError extends Error {}
function fail(message: string): never {
  throw new BenchError(message);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------- processes: every child gets its own process group, stopped by group id ----------

interface Started {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
}
const started = new Set<Started>();
/** Set on SIGINT/SIGTERM: nothing new may start while everything is being stopped. */
let stopping = false;
/** The scratch dir, removed on success or interrupt and kept after an error for its logs. */
let scratch: string | undefined;

function spawnGuarded(name: string, cmd: string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  if (stopping) fail(`interrupted, not starting ${name}`);
  return spawn(cmd[0]!, cmd.slice(1), { ...options, detached: true, cwd: REPO });
}

/** Starts a long-running child in its own process group; output goes to `logFile`. */
function startBg(name: string, cmd: string[], logFile: string, env: Record<string, string> = {}): Started {
  const fd = openSync(logFile, "w");
  let proc: ChildProcess;
  try {
    proc = spawnGuarded(name, cmd, { stdio: ["ignore", fd, fd], env: { ...process.env, ...env } });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const child = { name, proc, exited };
  started.add(child);
  log(`started ${name} (pid ${proc.pid}): ${cmd.join(" ")}`);
  return child;
}

function alive(child: Started): boolean {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

/** SIGTERM to the process group, SIGKILL after 5 s. */
async function stop(child: Started): Promise<void> {
  started.delete(child);
  const pgid = child.proc.pid;
  if (pgid === undefined) return;
  const signal = (sig: NodeJS.Signals | 0) => {
    try {
      process.kill(-pgid, sig);
      return true;
    } catch {
      return false; // group already gone
    }
  };
  if (!signal("SIGTERM")) return;
  for (let i = 0; i < 50 && signal(0); i++) await sleep(100);
  signal("SIGKILL");
  await Promise.race([child.exited, sleep(1000)]);
}

/** Stops every child still running, newest first; concurrent callers share one pass. */
let stoppingAll: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stoppingAll ??= (async () => {
    for (const child of [...started].reverse()) await stop(child);
  })().finally(() => (stoppingAll = undefined));
  return stoppingAll;
}

/** Runs a command to completion (own process group, killed after `timeoutMs`), capturing output. */
async function run(name: string, cmd: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  const proc = spawnGuarded(name, cmd, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const child = { name, proc, exited };
  started.add(child);
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const closed = new Promise<void>((r) => proc.once("close", () => r()));
  const timer = setTimeout(() => {
    log(`${name}: still running after ${timeoutMs / 1000}s, stopping it`);
    void stop(child);
  }, timeoutMs);
  await Promise.race([closed, exited.then(() => sleep(500))]);
  clearTimeout(timer);
  started.delete(child);
  if (stopping) fail(`interrupted during ${name}`);
  return { code: proc.exitCode, out };
}

function have(bin: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" }).status === 0;
}

/** Free loopback ports (bound to port 0, then released). */
async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n * 10 && ports.length < n; i++) {
    const port = await new Promise<number>((ok, ko) => {
      const s = createServer();
      s.once("error", ko);
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => ok(p));
      });
    });
    if (!ports.includes(port)) ports.push(port);
  }
  if (ports.length < n) fail("could not find free loopback ports");
  return ports;
}

// ---------- curl ----------

interface CurlResult {
  code: string;
  body: string;
  error: string;
}

function curl(args: string[]): CurlResult {
  const r = spawnSync("curl", ["-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}", ...args], { encoding: "utf8" });
  const out = r.stdout ?? "";
  const cut = out.lastIndexOf("\n");
  return { body: out.slice(0, cut), code: out.slice(cut + 1), error: (r.stderr ?? "").trim() };
}

/** Retries `check` every 100 ms for up to `seconds`; stops early when `child` has exited. */
async function waitFor(what: string, seconds: number, child: Started, check: () => boolean): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (check()) return;
    if (!alive(child)) fail(`${child.name} exited (code ${child.proc.exitCode}, signal ${child.proc.signalCode}) before ${what}`);
    await sleep(100);
  }
  fail(`timed out after ${seconds}s waiting for ${what}`);
}

// ---------- upstream ----------

interface Upstream {
  kind: "nginx" | "bun";
  h1: string; // URL for the direct H1 row, also Portico's service
  h2c?: string; // URL for the direct H2 row (nginx only)
  origin: string;
  child: Started;
}

async function startUpstream(dir: string): Promise<Upstream> {
  const useNginx = have("nginx") && process.env.BENCH_UPSTREAM !== "bun";
  if (useNginx) {
    const [port, h2cPort] = await freePorts(2);
    const ngx = join(dir, "nginx");
    mkdirSync(join(ngx, "tmp"), { recursive: true });
    if (/['$\\]/.test(WEBAPP_BODY)) fail("the catalog body cannot be quoted in nginx.conf");
    writeFileSync(
      join(ngx, "nginx.conf"),
      `worker_processes 1;
daemon off;
pid ${ngx}/nginx.pid;
error_log ${ngx}/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${ngx}/tmp; proxy_temp_path ${ngx}/tmp; fastcgi_temp_path ${ngx}/tmp; uwsgi_temp_path ${ngx}/tmp; scgi_temp_path ${ngx}/tmp;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server_tokens off;
  types { }
  default_type "application/json; charset=utf-8";
  server {
    listen 127.0.0.1:${port} backlog=4096;
    listen 127.0.0.1:${h2cPort} http2 backlog=4096;
    location / { return 200 '${WEBAPP_BODY}'; }
  }
}
`,
    );
    const cmd = ["taskset", "-c", LOADGEN_CPU, "nginx", "-e", `${ngx}/error.log`, "-c", `${ngx}/nginx.conf`, "-p", ngx];
    const child = startBg("upstream nginx", cmd, join(dir, "upstream.log"));
    const origin = `http://127.0.0.1:${port}`;
    return { kind: "nginx", h1: `${origin}${PATH}`, h2c: `http://127.0.0.1:${h2cPort}${PATH}`, origin, child };
  }
  const [port, catalogPort] = await freePorts(2);
  const cmd = ["taskset", "-c", LOADGEN_CPU, BUN, join(REPO, "scripts/demo-upstreams.ts")];
  // demo-upstreams.ts takes its ports from the environment when run directly.
  const env = { WEBAPP_PORT: String(port), CATALOG_PORT: String(catalogPort) };
  const child = startBg("upstream bun demo", cmd, join(dir, "upstream.log"), env);
  const origin = `http://127.0.0.1:${port}`;
  return { kind: "bun", h1: `${origin}${PATH}`, origin, child };
}

// ---------- Portico ----------

function writeRoutes(dir: string, httpsPort: number, mtlsPort: number, upstreamOrigin: string): string {
  const file = join(dir, "routes.yaml");
  writeFileSync(
    file,
    `# written by scripts/bench.ts
listeners:
  - name: https
    address: 127.0.0.1
    port: ${httpsPort}
    protocol: HTTPS
    servers:
      - hosts: [${HOST}]
        tls: { mode: SIMPLE, credential: webapp-credential }
  - name: https-mtls
    address: 127.0.0.1
    port: ${mtlsPort}
    protocol: HTTPS
    servers:
      - hosts: [${HOST}]
        tls: { mode: MUTUAL, credential: webapp-credential-mtls }

credentials:
  webapp-credential: ${join(CERTS, "webapp-credential")}
  webapp-credential-mtls: ${join(CERTS, "webapp-credential-mtls")}

services:
  webapp: ${upstreamOrigin}

routes:
  - hosts: [${HOST}]
    http:
      - route: [{ destination: webapp }]
`,
  );
  return file;
}

function porticoCurl(port: number, extra: string[] = []): CurlResult {
  return curl([
    "--cacert",
    join(CERTS, "webapp-ca-chain.pem"),
    "--resolve",
    `${HOST}:${port}:127.0.0.1`,
    ...extra,
    `https://${HOST}:${port}${PATH}`,
  ]);
}

// ---------- load generators (pinned to CPU 1, private /etc/hosts) ----------

interface H1Result {
  rps?: number;
  p99ms?: number;
  errors: number;
}
interface H2Result {
  rps?: number;
  errors: number;
}

function loadgen(hostsFile: string, cmd: string[]): string[] {
  return ["unshare", "-m", "bash", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, "taskset", "-c", LOADGEN_CPU, ...cmd];
}

function toMs(value: string): number | undefined {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value);
  if (!m) return undefined;
  const x = Number(m[1]);
  return { us: x / 1000, ms: x, s: x * 1000, m: x * 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
}

function parseWrk(out: string): H1Result {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p99 = /^\s+99(?:\.0+)?%\s+([\d.]+\w+)/m.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return { rps: rps ? Number(rps[1]) : undefined, p99ms: p99 ? toMs(p99[1]!) : undefined, errors };
}

function parseH2load(out: string): H2Result {
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const req = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const sum = (m: RegExpExecArray | null) => (m ? m.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps: rps ? Number(rps[1]) : undefined, errors: sum(req) + sum(codes) };
}

async function wrk(label: string, hostsFile: string, url: string, rawDir: string): Promise<H1Result> {
  const cmd = loadgen(hostsFile, ["wrk", "-t1", "-c50", `-d${DURATION}s`, "--latency", url]);
  log(`${label}: wrk -t1 -c50 -d${DURATION}s --latency ${url}`);
  const { out } = await run(label, cmd, (DURATION + 30) * 1000);
  writeFileSync(join(rawDir, `${label}.txt`), out);
  const r = parseWrk(out);
  if (r.rps === undefined) log(`${label}: could not parse wrk output:\n${out}`);
  else log(`${label}: ${r.rps} req/s, p99 ${r.p99ms} ms, errors ${r.errors}`);
  return r;
}

async function h2load(label: string, hostsFile: string, url: string, rawDir: string): Promise<H2Result> {
  const cmd = loadgen(hostsFile, ["h2load", "-t1", "-c10", "-m10", "-D", String(DURATION), "--warm-up-time=1", url]);
  log(`${label}: h2load -t1 -c10 -m10 -D ${DURATION} --warm-up-time=1 ${url}`);
  const { out } = await run(label, cmd, (DURATION + 30) * 1000);
  writeFileSync(join(rawDir, `${label}.txt`), out);
  const r = parseH2load(out);
  if (r.rps === undefined) log(`${label}: could not parse h2load output:\n${out}`);
  else log(`${label}: ${r.rps} req/s, errors ${r.errors}`);
  return r;
}

async function warmUp(hostsFile: string, url: string, h2: boolean): Promise<void> {
  log(`warm-up ${WARMUP}s: ${url}`);
  await run("warm-up", loadgen(hostsFile, ["wrk", "-t1", "-c50", `-d${WARMUP}s`, url]), (WARMUP + 30) * 1000);
  if (h2) await run("warm-up h2", loadgen(hostsFile, ["h2load", "-t1", "-c10", "-m10", "-D", "1", url]), 30_000);
}

// ---------- report ----------

function fmt(n: number | undefined, digits: number): string {
  return n === undefined ? "n/a" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows: { name: string; h1: H1Result; h2?: H2Result }[], upstream: Upstream, stamp: string): string {
  const lines = [
    `### Portico bench ${stamp} (${DURATION}s per test, warm-up ${WARMUP}s; Portico on CPU ${PROXY_CPU}, ${upstream.kind} upstream + load generator on CPU ${LOADGEN_CPU})`,
    "",
    "| target | H1 req/s | H1 p99 ms | H2 req/s |",
    "|---|---:|---:|---:|",
    ...rows.map((r) => `| ${r.name} | ${fmt(r.h1.rps, 0)} | ${fmt(r.h1.p99ms, 2)} | ${r.h2 ? fmt(r.h2.rps, 0) : "n/a"} |`),
    "",
    "H1 = `wrk -t1 -c50 --latency` keep-alive (direct: plain HTTP; portico: HTTP/1.1 over TLS); " +
      "H2 = `h2load -t1 -c10 -m10 --warm-up-time=1` (direct: h2c; portico: h2 over TLS).",
  ];
  if (upstream.kind === "bun") lines.push("The bun demo upstream speaks HTTP/1.1 only, so there is no direct H2 figure.");
  const errors = rows.flatMap((r) => [
    r.h1.errors ? `${r.name} H1: ${r.h1.errors} errors` : "",
    r.h2?.errors ? `${r.name} H2: ${r.h2.errors} errors` : "",
  ]).filter(Boolean);
  if (errors.length) lines.push("", `**Errors:** ${errors.join("; ")}`);
  return lines.join("\n") + "\n";
}

// ---------- main ----------

async function main(): Promise<void> {
  for (const bin of ["wrk", "h2load", "curl", "taskset", "unshare"]) {
    if (!have(bin)) fail(`missing ${bin} (apt-get install -y nginx wrk nghttp2-client curl util-linux)`);
  }
  if (!existsSync(BUN)) fail(`bun not found at ${BUN}`);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const dir = mkdtempSync(join(tmpdir(), "portico-bench-"));
  scratch = dir;
  const rawDir = join(dir, "raw");
  mkdirSync(rawDir);
  log(`scratch dir ${dir}`);
  const hostsFile = join(dir, "hosts");
  writeFileSync(hostsFile, `127.0.0.1 localhost\n127.0.0.1 ${HOST}\n`);
  if (spawnSync("unshare", ["-m", "bash", "-c", 'mount --bind "$0" /etc/hosts', hostsFile]).status !== 0) {
    fail("`unshare -m` + `mount --bind` failed; the load generators need it (run as root)");
  }

  // Upstream
  const upstream = await startUpstream(dir);
  await waitFor(`the upstream on ${upstream.origin}`, 15, upstream.child, () => {
    const r = curl([upstream.h1]);
    return r.code === "200" && r.body === WEBAPP_BODY;
  });
  log(`${upstream.kind} upstream answers on ${upstream.origin}${upstream.h2c ? ` (h2c ${upstream.h2c})` : ""}`);

  // Portico
  const [httpsPort, mtlsPort] = await freePorts(2);
  const routes = writeRoutes(dir, httpsPort!, mtlsPort!, upstream.origin);
  const porticoLog = join(dir, "portico.log");
  const portico = startBg("portico", ["taskset", "-c", PROXY_CPU, BUN, join(REPO, "src/main.ts"), "run", "-c", routes], porticoLog);
  const showLog = () => process.stderr.write(`--- Portico log (${porticoLog}) ---\n${readFileSync(porticoLog, "utf8")}---\n`);
  try {
    await waitFor(`Portico to answer on :${httpsPort}`, 20, portico, () => porticoCurl(httpsPort!).code !== "000");
    const main = porticoCurl(httpsPort!);
    if (main.code !== "200" || main.body !== WEBAPP_BODY) {
      fail(`GET https://${HOST}:${httpsPort}${PATH} through Portico: status ${main.code}, ${Buffer.byteLength(main.body)} bytes (want 200, ${Buffer.byteLength(WEBAPP_BODY)} bytes) ${main.error}`);
    }
    const mtls = porticoCurl(mtlsPort!, ["--cert", join(CERTS, "clients/webapp-client.crt"), "--key", join(CERTS, "clients/webapp-client.key")]);
    if (mtls.code !== "200" || mtls.body !== WEBAPP_BODY) {
      fail(`GET with a client cert on the mTLS listener :${mtlsPort}: status ${mtls.code}, ${Buffer.byteLength(mtls.body)} bytes ${mtls.error}`);
    }
  } catch (err) {
    showLog();
    throw err;
  }
  log(`Portico answers 200 with ${Buffer.byteLength(WEBAPP_BODY)} bytes on :${httpsPort} (mTLS :${mtlsPort})`);

  // Direct
  await warmUp(hostsFile, upstream.h1, false);
  const directH1 = await wrk("direct-h1", hostsFile, upstream.h1, rawDir);
  const directH2 = upstream.h2c ? await h2load("direct-h2", hostsFile, upstream.h2c, rawDir) : undefined;

  // Portico
  const url = `https://${HOST}:${httpsPort}${PATH}`;
  await warmUp(hostsFile, url, true);
  const porticoH1 = await wrk("portico-h1", hostsFile, url, rawDir);
  const porticoH2 = await h2load("portico-h2", hostsFile, url, rawDir);
  if (!alive(portico)) {
    showLog();
    fail("Portico exited during the measurement");
  }

  await stopAll();
  const md = table(
    [
      { name: "direct", h1: directH1, h2: directH2 },
      { name: "portico", h1: porticoH1, h2: porticoH2 },
    ],
    upstream,
    stamp,
  );
  process.stdout.write(`\n${md}`);
  const outDir = join(REPO, ".bench");
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `results-${stamp}.md`);
  writeFileSync(outFile, md);
  log(`wrote ${outFile}`);
  rmSync(dir, { recursive: true, force: true });
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping everything`);
    void stopAll().then(() => {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

try {
  await main();
} catch (err) {
  await stopAll();
  if (stopping) process.exit(130); // the signal handler reports and exits
  if (err instanceof BenchError) {
    log(`error: ${err.message}`);
    log("logs and configs are kept in the scratch dir named above");
    process.exit(1);
  }
  throw err;
}
