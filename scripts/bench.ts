// `npm run bench`: Portico under each runtime beside a direct upstream on loopback, two cores.
//
//   CPU 0: Portico (HTTPS listener, webapp SIMPLE; HTTPS mTLS listener, webapp MUTUAL)
//   CPU 1: upstream (nginx if installed, else the bun demo webapp) and the load generators
//
// Runtimes, one after the other, each with fresh ports (BENCH_RUNTIMES=bun,deno,node,binary limits the set):
//   bun     node_modules/.bin/bun src/main.ts run -c CFG
//   deno    node_modules/.bin/deno run -A --quiet src/main.ts run -c CFG   (deno.json: nodeModulesDir manual)
//   node    node DIST run -c CFG, DIST = `bun build --target=node --format=esm src/main.ts` into the scratch dir
//   (the command lines come from scripts/runtimes.ts, shared with the tests and build.ts)
//   binary  dist/portico-linux-x64 run -c CFG   (only when that file exists, or asked for by name)
//
// Measures as the peer benchmark harness does (README, "Benchmarks"):
//   H1       wrk -t1 -c50 -d${DURATION}s --latency   (direct: plain HTTP; portico: HTTP/1.1 over TLS)
//   H2       h2load -t1 -c10 -m10 -D ${DURATION} --warm-up-time=1   (direct: h2c, nginx only; portico: h2 over TLS)
//   mTLS H2  the same h2load against the MUTUAL listener, with a client certificate injected by
//            scripts/tlsshim.c (LD_PRELOAD; built with gcc into the scratch dir; n/a if it can't be)
//   h2 upstream  the same h2load against a third listener whose routes reach HTTP/2 upstreams (so
//            it needs trailers, which on Bun means node:http2), twice: to the HTTP/1.1 upstream
//            (/h1/...) and to nginx's h2c port (/h2c/..., node:http2 client): the difference is
//            the cost of the node:http2 upstream client (nginx only)
//   gRPC     h2load -d FRAME -H 'content-type: application/grpc' -H 'te: trailers' on that
//            listener to a @grpc/grpc-js unary echo on h2c (scripts/grpc-upstream.ts, CPU 1);
//            direct: the same h2load to the gRPC server itself
//   idle RSS VmRSS of the runtime process (the one that owns the listening socket) 1 s after Portico
//            logged "serving", before any request
//   RSS after H2  its VmRSS 1 s after the H2 test ended; peak RSS: its VmHWM (the highest VmRSS
//            since it started) after the last test
//   WS       sequential WebSocket echo round trips of 32 bytes (scripts/bench-ws.ts; direct: ws://
//            to the echo upstream; portico: wss:// to the HTTPS listener), round trips/s
//   adapter  the listener adapter Portico logged for each listener ("[bun-sni]", "[node-http2]", ...)
// Load generators run in a private mount namespace whose /etc/hosts maps webapp.istioinaction.io
// to 127.0.0.1 (wrk has no --resolve), so SNI and Host carry the real name.
//
// Env: DURATION (seconds, default 10), WARMUP (seconds, default 2), BENCH_UPSTREAM=bun to skip nginx,
// BENCH_RUNTIMES (comma-separated subset of bun,deno,node,binary; default all available),
// BENCH_WORKERS=N (portico run --workers N; Portico then runs on CPUs 0,1 unless BENCH_PROXY_CPUS
// says otherwise), BENCH_ACCESS_LOG=on|off (--access-log stdout|off; unset: Portico's default).
// Output: a Markdown table on stdout, also written to .bench/results-<stamp>.md.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startWsEcho, wsRoundTrips } from "./bench-ws.ts";
import { WEBAPP_BODY } from "./demo-upstreams.ts";
import { GRPC_PATH, grpcFrame } from "./grpc-upstream.ts";
import { BINARY, BUN, DENO, DENO_ENV, ROOT as REPO, nodeBundleCommand, porticoCommand } from "./runtimes.ts";

const CERTS = join(REPO, "certs");
const HOST = "webapp.istioinaction.io";
/** The https-grpc listener's name (the webapp certificate does not cover it; h2load does not check). */
const GRPC_HOST = "grpc.bench.test";
const PATH = "/api/catalog";
const DURATION = positiveInt("DURATION", 10);
const WARMUP = positiveInt("WARMUP", 2);
const WORKERS = positiveInt("BENCH_WORKERS", 1);
const ACCESS_LOG = accessLogKnob();
/** With workers, Portico gets both cores (sharing CPU 1 with the load generator): BENCH_PROXY_CPUS overrides. */
const PROXY_CPU = process.env.BENCH_PROXY_CPUS || (WORKERS > 1 ? "0,1" : "0");
/** What BENCH_WORKERS and BENCH_ACCESS_LOG add to `portico run`. */
const PORTICO_ARGS = [
  ...(WORKERS > 1 ? ["--workers", String(WORKERS)] : []),
  ...(ACCESS_LOG === "default" ? [] : ["--access-log", ACCESS_LOG === "off" ? "off" : "stdout"]),
];
const LOADGEN_CPU = "1";
const TLSSHIM_SRC = resolve(REPO, "scripts/tlsshim.c");
const CLIENT_CERT = join(CERTS, "clients/webapp-client.crt");
const CLIENT_KEY = join(CERTS, "clients/webapp-client.key");

/** BENCH_ACCESS_LOG=on|off; unset leaves Portico's default. */
function accessLogKnob(): "on" | "off" | "default" {
  const raw = process.env.BENCH_ACCESS_LOG;
  if (raw === undefined || raw === "") return "default";
  if (raw !== "on" && raw !== "off") fail(`BENCH_ACCESS_LOG must be on or off, got "${raw}"`);
  return raw;
}

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

/** How a child that is no longer alive ended: its exit code or the signal that killed it. */
function howEnded(child: Started): string {
  return child.proc.signalCode ? `killed by ${child.proc.signalCode}` : `exit code ${child.proc.exitCode}`;
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
async function run(
  name: string,
  cmd: string[],
  timeoutMs: number,
): Promise<{ code: number | null; out: string }> {
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
  const r = spawnSync("curl", ["-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}", ...args], {
    encoding: "utf8",
  });
  const out = r.stdout ?? "";
  const cut = out.lastIndexOf("\n");
  return { body: out.slice(0, cut), code: out.slice(cut + 1), error: (r.stderr ?? "").trim() };
}

/** Retries `check` every 100 ms for up to `seconds`; stops early when `child` has exited. */
async function waitFor(what: string, seconds: number, child: Started, check: () => boolean): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (check()) return;
    if (!alive(child))
      fail(
        `${child.name} exited (code ${child.proc.exitCode}, signal ${child.proc.signalCode}) before ${what}`,
      );
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
    const cmd = [
      "taskset",
      "-c",
      LOADGEN_CPU,
      "nginx",
      "-e",
      `${ngx}/error.log`,
      "-c",
      `${ngx}/nginx.conf`,
      "-p",
      ngx,
    ];
    const child = startBg("upstream nginx", cmd, join(dir, "upstream.log"));
    const origin = `http://127.0.0.1:${port}`;
    return {
      kind: "nginx",
      h1: `${origin}${PATH}`,
      h2c: `http://127.0.0.1:${h2cPort}${PATH}`,
      origin,
      child,
    };
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

function writeRoutes(
  dir: string,
  [httpsPort, mtlsPort, grpcPort]: number[],
  upstream: Upstream,
  grpcOrigin: string,
  wsOrigin: string,
): string {
  const file = join(dir, "routes.yaml");
  const h2cOrigin = upstream.h2c && new URL(upstream.h2c).origin;
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
  - name: https-grpc
    address: 127.0.0.1
    port: ${grpcPort}
    protocol: HTTPS
    servers:
      - hosts: [${GRPC_HOST}]
        tls: { mode: SIMPLE, credential: webapp-credential }

credentials:
  webapp-credential: ${join(CERTS, "webapp-credential")}
  webapp-credential-mtls: ${join(CERTS, "webapp-credential-mtls")}

services:
  webapp: ${upstream.origin}
  wsecho: ${wsOrigin}
  grpc: ${grpcOrigin.replace("http:", "h2c:")}
${h2cOrigin ? `  webapp-h2c: ${h2cOrigin.replace("http:", "h2c:")}\n` : ""}
routes:
  - hosts: [${HOST}]
    http:
      - match: [{ uri: { prefix: /ws-echo } }]
        route: [{ destination: wsecho }]
      - route: [{ destination: webapp }]
  # Only the https-grpc listener accepts this name, so only it needs trailers.
  - hosts: [${GRPC_HOST}]
    http:
      - { match: [{ uri: { prefix: /bench.Echo/ } }], route: [{ destination: grpc }] }
      - match: [{ uri: { prefix: /h1/ } }]
        rewrite: { uri: / }
        route: [{ destination: webapp }]
${h2cOrigin ? "      - match: [{ uri: { prefix: /h2c/ } }]\n        rewrite: { uri: / }\n        route: [{ destination: webapp-h2c }]\n" : ""}`,
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
  /** What the errors were, e.g. "read 12, non-2xx 3". */
  errorKinds?: string;
}
interface H2Result {
  rps?: number;
  errors: number;
  errorKinds?: string;
}

/** "name n" for every non-zero count. */
function kinds(counts: [string, number][]): string | undefined {
  const parts = counts.filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(", ") : undefined;
}

function loadgen(hostsFile: string, cmd: string[]): string[] {
  return [
    "unshare",
    "-m",
    "bash",
    "-c",
    'mount --bind "$0" /etc/hosts && exec "$@"',
    hostsFile,
    "taskset",
    "-c",
    LOADGEN_CPU,
    ...cmd,
  ];
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
  const counts: [string, number][] = [
    ...(sock
      ? (["connect", "read", "write", "timeout"] as const).map((k, i): [string, number] => [
          k,
          Number(sock[i + 1]),
        ])
      : []),
    ["non-2xx", non2xx ? Number(non2xx[1]) : 0],
  ];
  const errors = counts.reduce((a, [, n]) => a + n, 0);
  return {
    rps: rps ? Number(rps[1]) : undefined,
    p99ms: p99 ? toMs(p99[1]!) : undefined,
    errors,
    errorKinds: kinds(counts),
  };
}

function parseH2load(out: string): H2Result {
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const req =
    /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      out,
    );
  const codes = /status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const counts: [string, number][] = [
    ...(req
      ? (["failed", "errored", "timeout"] as const).map((k, i): [string, number] => [k, Number(req[i + 1])])
      : []),
    ...(codes ? (["4xx", "5xx"] as const).map((k, i): [string, number] => [k, Number(codes[i + 1])]) : []),
  ];
  const errors = counts.reduce((a, [, n]) => a + n, 0);
  return { rps: rps ? Number(rps[1]) : undefined, errors, errorKinds: kinds(counts) };
}

async function wrk(label: string, hostsFile: string, url: string, rawDir: string): Promise<H1Result> {
  const cmd = loadgen(hostsFile, ["wrk", "-t1", "-c50", `-d${DURATION}s`, "--latency", url]);
  log(`${label}: wrk -t1 -c50 -d${DURATION}s --latency ${url}`);
  const { out } = await run(label, cmd, (DURATION + 30) * 1000);
  writeFileSync(join(rawDir, `${label}.txt`), out);
  const r = parseWrk(out);
  if (r.rps === undefined) log(`${label}: could not parse wrk output:\n${out}`);
  else
    log(
      `${label}: ${r.rps} req/s, p99 ${r.p99ms} ms, errors ${r.errors}${r.errorKinds ? ` (${r.errorKinds})` : ""}`,
    );
  return r;
}

async function h2load(
  label: string,
  hostsFile: string,
  url: string,
  rawDir: string,
  envPrefix: string[] = [],
  extra: string[] = [],
): Promise<H2Result> {
  const cmd = loadgen(hostsFile, [
    ...envPrefix,
    "h2load",
    "-t1",
    "-c10",
    "-m10",
    "-D",
    String(DURATION),
    "--warm-up-time=1",
    ...extra,
    url,
  ]);
  log(
    `${label}: ${envPrefix.length ? "(client cert via tlsshim) " : ""}h2load -t1 -c10 -m10 -D ${DURATION} --warm-up-time=1 ${url}`,
  );
  const { out } = await run(label, cmd, (DURATION + 30) * 1000);
  writeFileSync(join(rawDir, `${label}.txt`), out);
  const r = parseH2load(out);
  if (r.rps === undefined) log(`${label}: could not parse h2load output:\n${out}`);
  else log(`${label}: ${r.rps} req/s, errors ${r.errors}${r.errorKinds ? ` (${r.errorKinds})` : ""}`);
  return r;
}

/** `env` prefix that makes h2load present the test client certificate (tlsshim.c). */
function clientCertEnv(shim: string): string[] {
  return ["env", `LD_PRELOAD=${shim}`, `PB_CLIENT_CERT=${CLIENT_CERT}`, `PB_CLIENT_KEY=${CLIENT_KEY}`];
}

/** Number of requests that succeeded in a short h2load run (`-n`), to check a setup before measuring. */
async function h2Probe(
  label: string,
  hostsFile: string,
  url: string,
  envPrefix: string[],
  extra: string[] = [],
): Promise<number> {
  const { out } = await run(
    label,
    loadgen(hostsFile, [...envPrefix, "h2load", "-n20", "-c1", "-m1", ...extra, url]),
    30_000,
  );
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(out);
  return m ? Number(m[1]) : 0;
}

async function warmUp(hostsFile: string, url: string, h2: boolean): Promise<void> {
  log(`warm-up ${WARMUP}s: ${url}`);
  await run("warm-up", loadgen(hostsFile, ["wrk", "-t1", "-c50", `-d${WARMUP}s`, url]), (WARMUP + 30) * 1000);
  if (h2)
    await run("warm-up h2", loadgen(hostsFile, ["h2load", "-t1", "-c10", "-m10", "-D", "1", url]), 30_000);
}

// ---------- runtimes ----------

interface Runtime {
  name: string;
  /** The command that runs Portico with the routes file (taskset is prepended). */
  cmd: (routes: string) => string[];
  env?: Record<string, string>;
}

const RUNTIME_NAMES = ["bun", "deno", "node", "binary"] as const;

/** BENCH_RUNTIMES, validated; by default every runtime, the binary only when it exists. */
function selectedRuntimes(): string[] {
  const raw = process.env.BENCH_RUNTIMES;
  if (raw === undefined || raw.trim() === "") {
    return RUNTIME_NAMES.filter((n) => n !== "binary" || existsSync(BINARY));
  }
  const names = [
    ...new Set(
      raw
        .split(",")
        .map((n) => n.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = names.filter((n) => !(RUNTIME_NAMES as readonly string[]).includes(n));
  if (unknown.length || !names.length)
    fail(`BENCH_RUNTIMES must be a comma-separated subset of ${RUNTIME_NAMES.join(",")}, got "${raw}"`);
  if (names.includes("binary") && !existsSync(BINARY))
    fail(`BENCH_RUNTIMES asks for binary, but ${BINARY} does not exist (npm run build)`);
  return names;
}

/** Bundles src/main.ts for Node into `dir`; returns the bundle path. */
async function buildNodeBundle(dir: string): Promise<string> {
  const out = join(dir, "portico.mjs");
  const cmd = nodeBundleCommand(out);
  log(`building the Node bundle: ${cmd.join(" ")}`);
  const r = await run("bun build (node)", cmd, 120_000);
  if (r.code !== 0 || !existsSync(out)) fail(`bun build --target=node failed (exit ${r.code}):\n${r.out}`);
  return out;
}

/** Builds tlsshim.so into `dir`; undefined (mTLS column n/a) when it cannot be built. */
async function buildShim(dir: string): Promise<{ shim?: string; why?: string }> {
  if (!existsSync(TLSSHIM_SRC)) return { why: `${TLSSHIM_SRC} not found` };
  if (!have("gcc")) return { why: "gcc not found (apt-get install -y gcc libssl-dev)" };
  const out = join(dir, "tlsshim.so");
  const cmd = ["gcc", "-O2", "-shared", "-fPIC", "-o", out, TLSSHIM_SRC, "-ldl", "-lssl", "-lcrypto"];
  log(`building the client-certificate shim: ${cmd.join(" ")}`);
  const r = await run("gcc tlsshim", cmd, 120_000);
  if (r.code !== 0 || !existsSync(out)) {
    log(`could not build tlsshim.so (apt-get install -y gcc libssl-dev):\n${r.out}`);
    return { why: "tlsshim.so could not be built (needs gcc + libssl-dev)" };
  }
  return { shim: out };
}

// ---------- the runtime process: the one that owns the listening socket ----------

/** Inodes of sockets listening on 127.0.0.1/any `port` (from /proc/net/tcp{,6}). */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1]!.endsWith(`:${hexPort}`) && f[3] === "0A") inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** Processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state ppid pgrp ...
      if (Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The PID in the child's process group that holds the listening socket on `port`. */
function runtimePid(child: Started, port: number): { pid: number; exe: string } | undefined {
  const pgid = child.proc.pid;
  if (pgid === undefined) return undefined;
  const inodes = listeningInodes(port);
  for (const pid of groupMembers(pgid)) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = "";
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) {
        let exe = "?";
        try {
          exe = readlinkSync(`/proc/${pid}/exe`);
        } catch {
          // keep "?"
        }
        return { pid, exe };
      }
    }
  }
  return undefined;
}

function vmRssMiB(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

// ---------- one runtime ----------

interface RuntimeResult {
  name: string;
  version?: string;
  /** Adapter per listener name, from Portico's startup log. */
  adapters: Record<string, string>;
  rssMiB?: number;
  /** VmRSS 1 s after the H2 test, and VmHWM after the last test. */
  rssAfterH2MiB?: number;
  peakRssMiB?: number;
  h1?: H1Result;
  h2?: H2Result;
  mtls?: H2Result;
  /** h2 on the https-grpc listener to the HTTP/1.1 upstream, to nginx's h2c port, and gRPC unary. */
  viaH1?: H2Result;
  viaH2c?: H2Result;
  grpc?: H2Result;
  /** WebSocket echo round trips per second. */
  ws?: number;
  notes: string[];
}

interface BenchContext {
  dir: string;
  rawDir: string;
  hostsFile: string;
  upstream: Upstream;
  wsOrigin: string;
  shim?: string;
  shimWhy?: string;
  /** The gRPC upstream's origin and h2load's arguments for one gRPC-framed POST. */
  grpc: { origin: string; args: string[] };
}

async function benchRuntime(rt: Runtime, ctx: BenchContext): Promise<RuntimeResult> {
  const result: RuntimeResult = { name: rt.name, adapters: {}, notes: [] };
  const rtDir = join(ctx.dir, rt.name);
  mkdirSync(rtDir, { recursive: true });
  const [httpsPort, mtlsPort, grpcPort] = await freePorts(3);
  const routes = writeRoutes(
    rtDir,
    [httpsPort!, mtlsPort!, grpcPort!],
    ctx.upstream,
    ctx.grpc.origin,
    ctx.wsOrigin,
  );
  const porticoLog = join(rtDir, "portico.log");
  const readLog = () => {
    try {
      return readFileSync(porticoLog, "utf8");
    } catch {
      return "";
    }
  };
  const showLog = () =>
    process.stderr.write(`--- Portico ${rt.name} log (${porticoLog}) ---\n${readLog()}---\n`);
  log(`== ${rt.name}: https :${httpsPort}, mTLS :${mtlsPort} (CPU ${PROXY_CPU})`);
  const portico = startBg(
    `portico ${rt.name}`,
    ["taskset", "-c", PROXY_CPU, ...rt.cmd(routes)],
    porticoLog,
    rt.env,
  );
  try {
    await waitFor(`Portico (${rt.name}) to log "serving"`, 60, portico, () => / serving /.test(readLog()));
    const text = readLog();
    for (const m of text.matchAll(/listener (\S+) on \S+ \w+ \[([^\]]*)\]/g)) result.adapters[m[1]!] = m[2]!;
    result.version = /portico \S+ \(([^)]+)\) serving/.exec(text)?.[1];
    log(`${rt.name}: ${result.version ?? "?"}, adapters ${JSON.stringify(result.adapters)}`);

    // Idle RSS: the process that owns the listening socket (not a wrapper), 1 s after startup.
    let owner: { pid: number; exe: string } | undefined;
    for (let i = 0; i < 20 && !(owner = runtimePid(portico, httpsPort!)); i++) await sleep(100);
    if (owner) {
      await sleep(1000);
      result.rssMiB = vmRssMiB(owner.pid);
      log(
        `${rt.name}: runtime process pid ${owner.pid} (${owner.exe}${owner.pid === portico.proc.pid ? "" : `, spawned pid ${portico.proc.pid}`}), VmRSS ${fmt(result.rssMiB, 1)} MiB`,
      );
    } else {
      result.notes.push("no process owning the listening socket was found, so no RSS");
    }

    const main = porticoCurl(httpsPort!);
    if (main.code !== "200" || main.body !== WEBAPP_BODY) {
      fail(
        `GET https://${HOST}:${httpsPort}${PATH} through Portico (${rt.name}): status ${main.code}, ${Buffer.byteLength(main.body)} bytes (want 200, ${Buffer.byteLength(WEBAPP_BODY)} bytes) ${main.error}`,
      );
    }
    const mtls = porticoCurl(mtlsPort!, ["--cert", CLIENT_CERT, "--key", CLIENT_KEY]);
    if (mtls.code !== "200" || mtls.body !== WEBAPP_BODY) {
      fail(
        `GET with a client cert on the mTLS listener :${mtlsPort} (${rt.name}): status ${mtls.code}, ${Buffer.byteLength(mtls.body)} bytes ${mtls.error}`,
      );
    }
    log(
      `${rt.name}: answers 200 with ${Buffer.byteLength(WEBAPP_BODY)} bytes on :${httpsPort} and, with a client cert, on :${mtlsPort}`,
    );

    const url = `https://${HOST}:${httpsPort}${PATH}`;
    await warmUp(ctx.hostsFile, url, true);
    // A runtime that dies under load (Deno: docs/runtimes.md) ends its row with how it ended,
    // not the whole bench with the next client's connection error.
    const stillUp = (after: string) => {
      if (!alive(portico)) fail(`Portico (${rt.name}) exited during ${after} (${howEnded(portico)})`);
    };
    result.h1 = await wrk(`${rt.name}-h1`, ctx.hostsFile, url, ctx.rawDir);
    stillUp("the H1 test");
    result.h2 = await h2load(`${rt.name}-h2`, ctx.hostsFile, url, ctx.rawDir);
    stillUp("the H2 test");
    if (owner) {
      await sleep(1000);
      result.rssAfterH2MiB = vmRssMiB(owner.pid);
    }
    result.ws = await wsRoundTrips(`wss://${HOST}:${httpsPort}/ws-echo`, DURATION).catch((err) => {
      stillUp("the WebSocket test");
      throw err;
    });
    log(`${rt.name}-ws: ${fmt(result.ws, 0)} round trips/s`);

    if (ctx.shim) {
      const mtlsUrl = `https://${HOST}:${mtlsPort}${PATH}`;
      const certEnv = clientCertEnv(ctx.shim);
      const withCert = await h2Probe(`${rt.name}-mtls-probe`, ctx.hostsFile, mtlsUrl, certEnv);
      const withoutCert = await h2Probe(`${rt.name}-mtls-probe-nocert`, ctx.hostsFile, mtlsUrl, []);
      if (withoutCert > 0)
        result.notes.push(
          `the mTLS listener served ${withoutCert}/20 h2 requests without a client certificate`,
        );
      if (withCert !== 20) {
        result.notes.push(
          `h2load with the client certificate: ${withCert}/20 requests succeeded in the probe, mTLS H2 not measured`,
        );
      } else {
        await run(
          "warm-up mtls h2",
          loadgen(ctx.hostsFile, [...certEnv, "h2load", "-t1", "-c10", "-m10", "-D", "1", mtlsUrl]),
          30_000,
        );
        result.mtls = await h2load(`${rt.name}-mtls-h2`, ctx.hostsFile, mtlsUrl, ctx.rawDir, certEnv);
      }
    }
    // The listener whose routes reach HTTP/2 upstreams: HTTP/1.1 upstream, h2c upstream, gRPC.
    const base = `https://${GRPC_HOST}:${grpcPort}`;
    result.viaH1 = await h2load(`${rt.name}-h2-h1up`, ctx.hostsFile, `${base}/h1${PATH}`, ctx.rawDir);
    if (ctx.upstream.h2c)
      result.viaH2c = await h2load(`${rt.name}-h2-h2cup`, ctx.hostsFile, `${base}/h2c${PATH}`, ctx.rawDir);
    const grpcUrl = `${base}${GRPC_PATH}`;
    if ((await h2Probe(`${rt.name}-grpc-probe`, ctx.hostsFile, grpcUrl, [], ctx.grpc.args)) !== 20)
      result.notes.push("the gRPC probe through Portico did not succeed 20/20, gRPC not measured");
    else result.grpc = await h2load(`${rt.name}-grpc`, ctx.hostsFile, grpcUrl, ctx.rawDir, [], ctx.grpc.args);
    stillUp("the measurement");
    if (owner) result.peakRssMiB = vmRssMiB(owner.pid, "VmHWM");
  } catch (err) {
    if (stopping || !(err instanceof BenchError)) throw err;
    showLog();
    log(`${rt.name}: ${err.message}`);
    result.notes.push(err.message.split("\n")[0]!);
  } finally {
    await stop(portico);
  }
  return result;
}

// ---------- report ----------

function fmt(n: number | undefined, digits: number): string {
  return n === undefined
    ? "n/a"
    : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(
  direct: { h1: H1Result; h2?: H2Result; grpc?: H2Result; ws: number },
  results: RuntimeResult[],
  upstream: Upstream,
  stamp: string,
  shimWhy: string | undefined,
): string {
  const adapters = (r: RuntimeResult) => {
    const https = r.adapters["https"];
    const mtls = r.adapters["https-mtls"];
    const grpc = r.adapters["https-grpc"];
    if (!https && !mtls) return "n/a";
    return `${https ?? "?"} / ${mtls ?? "?"} / ${grpc ?? "?"}`;
  };
  const lines = [
    `### Portico bench ${stamp} (${DURATION}s per test, warm-up ${WARMUP}s; Portico on CPU ${PROXY_CPU}, ` +
      `${upstream.kind} upstream + load generator on CPU ${LOADGEN_CPU}; ` +
      `workers ${WORKERS}, access log ${ACCESS_LOG})`,
    "",
    "| target | version | adapter (https / mTLS / gRPC) | H1 req/s | H1 p99 ms | H2 req/s | mTLS H2 req/s " +
      "| H2→h1 upstream | H2→h2c upstream | gRPC unary req/s | WS rt/s | idle RSS MiB " +
      "| RSS after H2 MiB | peak RSS MiB |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    `| direct (${upstream.kind}) | - | - | ${fmt(direct.h1.rps, 0)} | ${fmt(direct.h1.p99ms, 2)} | ${direct.h2 ? fmt(direct.h2.rps, 0) : "n/a"} | n/a | n/a | n/a | ${fmt(direct.grpc?.rps, 0)} | ${fmt(direct.ws, 0)} | n/a | n/a | n/a |`,
    ...results.map(
      (r) =>
        `| portico ${r.name} | ${r.version ?? "n/a"} | ${adapters(r)} | ${fmt(r.h1?.rps, 0)} | ${fmt(r.h1?.p99ms, 2)} | ${fmt(r.h2?.rps, 0)} | ${fmt(r.mtls?.rps, 0)} | ${fmt(r.viaH1?.rps, 0)} | ${fmt(r.viaH2c?.rps, 0)} | ${fmt(r.grpc?.rps, 0)} | ${fmt(r.ws, 0)} | ${fmt(r.rssMiB, 1)} | ${fmt(r.rssAfterH2MiB, 1)} | ${fmt(r.peakRssMiB, 1)} |`,
    ),
    "",
    "H1 = `wrk -t1 -c50 --latency` keep-alive (direct: plain HTTP; portico: HTTP/1.1 over TLS); " +
      "H2 = `h2load -t1 -c10 -m10 --warm-up-time=1` (direct: h2c; portico: h2 over TLS); " +
      "mTLS H2 = the same h2load against the MUTUAL listener with a client certificate (tlsshim.c); " +
      "H2→h1 / H2→h2c upstream = that h2load on the listener whose routes reach HTTP/2 upstreams, to " +
      "the HTTP/1.1 upstream and to nginx over h2c (node:http2 client); " +
      "gRPC unary = h2load POSTing one gRPC frame to a @grpc/grpc-js echo over h2c (direct: to it); " +
      "WS = sequential WebSocket echo round trips of 32 bytes (direct: ws://; portico: wss://), " +
      "client and echo upstream in the bench process; " +
      "idle RSS = VmRSS of the runtime process 1 s after startup, before any request; " +
      "RSS after H2 = its VmRSS 1 s after the H2 test; peak RSS = its VmHWM after the last test. " +
      "Runtimes run one after the other on a shared machine: compare within a run, not across runs.",
  ];
  if (upstream.kind === "bun")
    lines.push("The bun demo upstream speaks HTTP/1.1 only, so there is no direct H2 figure.");
  if (shimWhy) lines.push("", `mTLS H2 is n/a: ${shimWhy}.`);
  const err = (what: string, r: { errors: number; errorKinds?: string } | undefined) =>
    r?.errors ? `${what}: ${r.errors} errors (${r.errorKinds ?? "?"})` : "";
  const errors = [
    err("direct H1", direct.h1),
    err("direct H2", direct.h2),
    ...results.flatMap((r) => [
      err(`${r.name} H1`, r.h1),
      err(`${r.name} H2`, r.h2),
      err(`${r.name} mTLS H2`, r.mtls),
      err(`${r.name} H2→h1 upstream`, r.viaH1),
      err(`${r.name} H2→h2c upstream`, r.viaH2c),
      err(`${r.name} gRPC`, r.grpc),
    ]),
  ].filter(Boolean);
  if (errors.length) lines.push("", `**Errors:** ${errors.join("; ")}`);
  const notes = results.flatMap((r) => r.notes.map((n) => `${r.name}: ${n}`));
  if (notes.length) lines.push("", `**Notes:** ${notes.join("; ")}`);
  return lines.join("\n") + "\n";
}

// ---------- main ----------

async function main(): Promise<void> {
  for (const bin of ["wrk", "h2load", "curl", "taskset", "unshare"]) {
    if (!have(bin)) fail(`missing ${bin} (apt-get install -y nginx wrk nghttp2-client curl util-linux)`);
  }
  const names = selectedRuntimes();
  if (names.includes("bun") || names.includes("node")) {
    if (!existsSync(BUN)) fail(`bun not found at ${BUN} (npm install)`);
  }
  if (names.includes("deno") && !existsSync(DENO)) fail(`deno not found at ${DENO} (npm install)`);
  if (names.includes("node") && !have("node")) fail("node not found on PATH");
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const dir = mkdtempSync(join(tmpdir(), "portico-bench-"));
  scratch = dir;
  const rawDir = join(dir, "raw");
  mkdirSync(rawDir);
  log(`scratch dir ${dir}; runtimes ${names.join(", ")}`);
  const hostsFile = join(dir, "hosts");
  writeFileSync(hostsFile, `127.0.0.1 localhost\n127.0.0.1 ${HOST}\n127.0.0.1 ${GRPC_HOST}\n`);
  if (spawnSync("unshare", ["-m", "bash", "-c", 'mount --bind "$0" /etc/hosts', hostsFile]).status !== 0) {
    fail("`unshare -m` + `mount --bind` failed; the load generators need it (run as root)");
  }

  // Build what the runtimes need before anything is measured.
  const { shim, why: shimWhy } = await buildShim(dir);
  if (!shim) log(`mTLS H2 will be n/a: ${shimWhy}`);
  const runtimes: Runtime[] = [];
  const early: RuntimeResult[] = []; // runtimes that could not even be prepared
  for (const name of names) {
    if (name === "bun")
      runtimes.push({ name, cmd: (cfg) => porticoCommand("bun", ["run", "-c", cfg, ...PORTICO_ARGS]) });
    if (name === "deno")
      runtimes.push({
        name,
        cmd: (cfg) => porticoCommand("deno", ["run", "-c", cfg, ...PORTICO_ARGS]),
        env: DENO_ENV,
      });
    if (name === "node") {
      try {
        const nodeBundle = await buildNodeBundle(join(dir, "node-dist"));
        runtimes.push({
          name,
          cmd: (cfg) => porticoCommand("node", ["run", "-c", cfg, ...PORTICO_ARGS], { nodeBundle }),
        });
      } catch (err) {
        if (stopping || !(err instanceof BenchError)) throw err;
        log(`node: ${err.message}`);
        early.push({ name, adapters: {}, notes: ["the Node bundle could not be built"] });
      }
    }
    if (name === "binary")
      runtimes.push({ name, cmd: (cfg) => porticoCommand("binary", ["run", "-c", cfg, ...PORTICO_ARGS]) });
  }

  // Upstream
  const upstream = await startUpstream(dir);
  await waitFor(`the upstream on ${upstream.origin}`, 15, upstream.child, () => {
    const r = curl([upstream.h1]);
    return r.code === "200" && r.body === WEBAPP_BODY;
  });
  log(
    `${upstream.kind} upstream answers on ${upstream.origin}${upstream.h2c ? ` (h2c ${upstream.h2c})` : ""}`,
  );

  // The gRPC unary echo, and one gRPC-framed request body for h2load.
  const [grpcUpstreamPort] = await freePorts(1);
  const grpcOrigin = `http://127.0.0.1:${grpcUpstreamPort}`;
  const grpcChild = startBg(
    "upstream gRPC",
    ["taskset", "-c", LOADGEN_CPU, BUN, join(REPO, "scripts/grpc-upstream.ts")],
    join(dir, "grpc-upstream.log"),
    { GRPC_PORT: String(grpcUpstreamPort) },
  );
  const frameFile = join(dir, "grpc-frame.bin");
  writeFileSync(frameFile, grpcFrame(Buffer.from(WEBAPP_BODY.slice(0, 64))));
  const grpcArgs = ["-d", frameFile, "-H", "content-type: application/grpc", "-H", "te: trailers"];
  await waitFor("the gRPC upstream", 15, grpcChild, () => {
    try {
      return readFileSync(join(dir, "grpc-upstream.log"), "utf8").includes("gRPC echo");
    } catch {
      return false;
    }
  });

  // Direct
  await warmUp(hostsFile, upstream.h1, false);
  const directH1 = await wrk("direct-h1", hostsFile, upstream.h1, rawDir);
  const directH2 = upstream.h2c ? await h2load("direct-h2", hostsFile, upstream.h2c, rawDir) : undefined;
  const directGrpc = await h2load(
    "direct-grpc",
    hostsFile,
    `${grpcOrigin}${GRPC_PATH}`,
    rawDir,
    [],
    grpcArgs,
  );
  const wsEcho = await startWsEcho();
  const directWs = await wsRoundTrips(`${wsEcho.origin.replace("http:", "ws:")}/ws-echo`, DURATION);
  log(`direct-ws: ${fmt(directWs, 0)} round trips/s`);

  // Portico, one runtime at a time
  const grpc = { origin: grpcOrigin, args: grpcArgs };
  const ctx: BenchContext = {
    dir,
    rawDir,
    hostsFile,
    upstream,
    wsOrigin: wsEcho.origin,
    shim,
    shimWhy,
    grpc,
  };
  const results: RuntimeResult[] = [];
  for (const rt of runtimes) {
    if (!alive(upstream.child)) fail("the upstream exited during the measurement");
    results.push(await benchRuntime(rt, ctx));
  }
  results.push(...early);
  results.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));

  await stopAll();
  await wsEcho.close();
  const md = table(
    { h1: directH1, h2: directH2, grpc: directGrpc, ws: directWs },
    results,
    upstream,
    stamp,
    shimWhy,
  );
  process.stdout.write(`\n${md}`);
  const outDir = join(REPO, ".bench");
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `results-${stamp}.md`);
  writeFileSync(outFile, md);
  log(`wrote ${outFile}`);
  if (results.some((r) => r.notes.length && !r.h1)) {
    log(`a runtime failed; its log is kept in the scratch dir ${dir}`);
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
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
