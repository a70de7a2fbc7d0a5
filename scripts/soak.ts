// `npm run soak`: Portico under mixed valid and hostile traffic for a while, on loopback only.
// Valid h1 (keep-alive and new connections) and h2 requests over TLS plus plain h1 must all get
// 200 with the upstream's echo; malformed HTTP/1.1, slowloris, unknown SNI, garbage ClientHellos
// and HTTP/2 floods (test/helpers/h2-hostile.py, python3-h2) are interleaved at a bounded rate.
// Portico's RSS (/proc/<pid>/status VmRSS) is sampled every second, its JS heap (heapUsed from
// the admin /metrics) every 2 s. Exits non-zero when a valid request failed, Portico died, or,
// after the memory warm-up, RSS grew (end > start × 1.5 + 30 MiB) or the heap's floor did (last
// third > first third × 1.2 + 8 MiB; see heapFloorLimit).
// Knobs: SOAK_SECONDS (60), SOAK_RUNTIME (bun|deno|node), SOAK_CONCURRENCY (8), SOAK_H2_CHURN
// (1: every tenth valid request opens and closes its own h2 session; default 0 on Deno, whose
// node:http2 aborts when many h2 connections open and close at once, denoland/deno#36788),
// SOAK_WARMUP_SECONDS (memory is judged after it; 20, at most a quarter of the run),
// SOAK_NODE_FLAGS (flags for the node executable, e.g. --inspect=127.0.0.1:9229 to take a
// sampling heap profile; Node 20 crashed taking full heap snapshots under this load),
// SOAK_RELOAD_SECONDS (3; 0: none): every so often routes.yaml gains or loses a second host with
// its credential and route, and Portico reloads it, by SIGHUP and POST /reload in turn; every
// reload must apply, and the valid requests and memory rules above hold across them.
// Not part of CI.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { connect as h2Connect, type ClientHttp2Session } from "node:http2";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { book, bookCredentials, HOST_CATALOG, HOST_WEBAPP } from "../test/helpers/book.ts";
import { h2Hostile } from "../test/helpers/h2-hostile.ts";
import { exchange, freePorts, sleep } from "../test/helpers/net.ts";
import { parseExposition } from "../test/helpers/prom-text.ts";
import { EchoUpstream } from "../test/helpers/upstreams.ts";
import { yaml } from "../test/helpers/yaml.ts";
import "./key-modes.ts";
import { buildNodeBundle, porticoCommand, ROOT, RUNTIMES, type Runtime } from "./runtimes.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const RUNTIME = (process.env.SOAK_RUNTIME ?? "bun") as Runtime;
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 8);
if (!RUNTIMES.includes(RUNTIME)) throw new Error(`SOAK_RUNTIME must be ${RUNTIMES.join(", ")}`);
if (!(SECONDS >= 10 && SECONDS <= 86_400)) throw new Error("SOAK_SECONDS must be 10..86400");
if (!(CONCURRENCY >= 1 && CONCURRENCY <= 64)) throw new Error("SOAK_CONCURRENCY must be 1..64");

const MiB = 1024 * 1024;
/** RSS: growth within half the start plus 30 MiB (allocator and JIT noise); catches the gross. */
const rssLimit = (start: number) => start * 1.5 + 30 * MiB;
/**
 * The JS heap's floor (the least heapUsed sampled, i.e. what survived the collections) in the
 * last third of the run against the first third: a fifth more plus 8 MiB. Retention of a few KB
 * per request or connection passes that within a minute or two (2 KB per request, injected once
 * on purpose, failed a 120 s run on Node); the heap breathing between collections does not, since
 * the floor of each third is taken across many collections.
 */
const heapFloorLimit = (start: number) => start * 1.2 + 8 * MiB;
/** Hostile traffic starts after this (the valid clients have connected). */
const WARMUP_MS = Math.min(5_000, SECONDS * 100);
/**
 * Memory is judged from this on: before it, each runtime's heap and allocator are still sizing
 * themselves to the load (Node's RSS climbs for ~20 s from ~95 MiB, then holds), which is no leak.
 */
const MEMORY_WARMUP_MS = Number(process.env.SOAK_WARMUP_SECONDS ?? Math.min(20, SECONDS / 4)) * 1_000;
if (!(MEMORY_WARMUP_MS >= 0 && MEMORY_WARMUP_MS <= SECONDS * 500)) {
  throw new Error("SOAK_WARMUP_SECONDS must be 0..SOAK_SECONDS/2");
}
const REQUEST_TIMEOUT_MS = 10_000;
const NODE_FLAGS = (process.env.SOAK_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const H2_CHURN = (process.env.SOAK_H2_CHURN ?? (RUNTIME === "deno" ? "0" : "1")) === "1";
const RELOAD_SECONDS = Number(process.env.SOAK_RELOAD_SECONDS ?? 3);
if (!(RELOAD_SECONDS >= 0 && RELOAD_SECONDS <= 3_600)) throw new Error("SOAK_RELOAD_SECONDS must be 0..3600");
/** When the traffic stops: the end of the soak, or at once when Portico dies. */
let until = Number.POSITIVE_INFINITY;

const dir = mkdtempSync(join(tmpdir(), "portico-soak-"));
const children = new Set<ChildProcess>();
const cleanups: (() => unknown)[] = [];
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    console.error(`\nsoak: ${sig}, stopping`);
    void cleanup().then(() => process.exit(130));
  });
}

// ---- Portico ---------------------------------------------------------------------------------

async function startPortico(args: string[]): Promise<{ proc: ChildProcess; output: () => string }> {
  const where = RUNTIME === "node" ? { nodeBundle: buildNodeBundle(join(dir, "portico.mjs")) } : {};
  const [cmd, ...rest] = porticoCommand(RUNTIME, args, where);
  // Flags for the node executable itself (say --heapsnapshot-signal=SIGUSR2 to look inside).
  if (RUNTIME === "node") rest.unshift(...NODE_FLAGS);
  const env = { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" };
  const proc = spawn(cmd!, rest, { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT, env });
  children.add(proc);
  let out = "";
  const keep = (d: Buffer) => (out = (out + d).slice(-20_000));
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  cleanups.push(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(t);
  });
  const deadline = Date.now() + 30_000;
  while (!/ serving /.test(out)) {
    if (proc.exitCode !== null) throw new Error(`portico exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`portico did not start in time:\n${out}`);
    await sleep(25);
  }
  return { proc, output: () => out };
}

interface HeapSample {
  t: number;
  used: number;
  total: number;
  external: number;
}
/** The JS heap as prom-client's default metrics report it (process.memoryUsage()). */
async function heapOf(admin: number): Promise<Omit<HeapSample, "t"> | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+]+)`, "m").exec(text)?.[1]);
    const h = {
      used: value("nodejs_heap_size_used_bytes"),
      total: value("nodejs_heap_size_total_bytes"),
      external: value("nodejs_external_memory_bytes"),
    };
    return Number.isFinite(h.used) ? h : undefined;
  } catch {
    return undefined;
  }
}

function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

// ---- valid traffic ---------------------------------------------------------------------------

interface Tally {
  ok: number;
  failed: number;
  errors: Map<string, number>;
}
const valid = new Map<string, Tally>();
function count(kind: string, error?: string) {
  let t = valid.get(kind);
  if (!t) valid.set(kind, (t = { ok: 0, failed: 0, errors: new Map() }));
  if (error === undefined) t.ok++;
  else {
    t.failed++;
    t.errors.set(error, (t.errors.get(error) ?? 0) + 1);
  }
}

/** The echo upstream answers the request as JSON: the marker in the path must come back. */
function check(status: number | undefined, body: string, marker: string): string | undefined {
  if (status !== 200) return `status ${status}`;
  if (!body.includes(marker)) return "body without the marker";
  return undefined;
}

function h1(
  tls: boolean,
  port: number,
  agent: HttpAgent | false,
  marker: string,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const opts = {
      host: "127.0.0.1",
      port,
      path: `/soak/${marker}`,
      headers: { host: HOST_WEBAPP },
      agent,
      timeout: REQUEST_TIMEOUT_MS,
      ...(tls ? { servername: HOST_WEBAPP, ca: readFileSync(book.webappCaChain) } : {}),
    };
    const req = (tls ? httpsRequest : httpRequest)(opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve(check(res.statusCode, body, marker)));
      res.on("error", (e) => resolve(`response ${e.message}`));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

function h2Session(port: number): ClientHttp2Session {
  const s = h2Connect(`https://127.0.0.1:${port}`, {
    servername: HOST_WEBAPP,
    ca: readFileSync(book.webappCaChain),
  });
  s.on("error", () => {});
  return s;
}

function h2(session: ClientHttp2Session, marker: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let stream: ReturnType<ClientHttp2Session["request"]>;
    try {
      stream = session.request({ ":path": `/soak/${marker}`, ":authority": HOST_WEBAPP });
    } catch (e) {
      resolve(`request ${(e as Error).message}`);
      return;
    }
    const timer = setTimeout(() => stream.close(), REQUEST_TIMEOUT_MS);
    let status: number | undefined;
    let body = "";
    stream.setEncoding("utf8");
    stream.on("response", (h) => (status = Number(h[":status"])));
    stream.on("data", (d) => (body += d));
    stream.on("end", () => {
      clearTimeout(timer);
      resolve(check(status, body, marker));
    });
    stream.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? e.message);
    });
    stream.on("close", () => {
      clearTimeout(timer);
      resolve(status === undefined ? `stream closed (${stream.rstCode})` : check(status, body, marker));
    });
  });
}

async function validWorker(id: number, https: number, http: number): Promise<void> {
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  let session = h2Session(https);
  cleanups.push(() => {
    httpsAgent.destroy();
    httpAgent.destroy();
    session.destroy();
  });
  for (let i = 0; Date.now() < until; i++) {
    const marker = `w${id}-${i}`;
    // Ten kinds in turn: mostly reused connections, some new ones, as real clients mix them.
    switch (i % 10) {
      case 0:
        count("h1 tls new conn", await h1(true, https, false, marker));
        break;
      case 1:
      case 2:
      case 3:
        count("h1 tls keep-alive", await h1(true, https, httpsAgent, marker));
        break;
      case 4: {
        if (!H2_CHURN) {
          if (session.closed || session.destroyed) session = h2Session(https);
          count("h2 shared session", await h2(session, marker));
          break;
        }
        const fresh = h2Session(https);
        count("h2 new session", await h2(fresh, marker));
        fresh.close();
        break;
      }
      case 5:
        count("h1 plain keep-alive", await h1(false, http, httpAgent, marker));
        break;
      default: {
        if (session.closed || session.destroyed) session = h2Session(https);
        count("h2 shared session", await h2(session, marker));
      }
    }
  }
  httpsAgent.destroy();
  httpAgent.destroy();
  session.close();
}

// ---- hostile traffic -------------------------------------------------------------------------

const hostile = new Map<string, { runs: number; outcomes: Map<string, number> }>();
function hostileDone(kind: string, outcome: string) {
  let h = hostile.get(kind);
  if (!h) hostile.set(kind, (h = { runs: 0, outcomes: new Map() }));
  h.runs++;
  h.outcomes.set(outcome, (h.outcomes.get(outcome) ?? 0) + 1);
}
/** The status line (or how the connection ended) of a raw exchange. */
const firstLine = (data: Buffer, how: string) =>
  data.length ? (data.toString("latin1").split("\r\n")[0] ?? "").slice(0, 40) : `closed (${how})`;

const request = (lines: string[]) => `${lines.join("\r\n")}\r\n\r\n`;
const RAW_HTTP1: Record<string, string> = {
  "bare LF": `GET / HTTP/1.1\nHost: ${HOST_WEBAPP}\n\n`,
  "CL+TE": request([
    "POST / HTTP/1.1",
    `Host: ${HOST_WEBAPP}`,
    "Content-Length: 4",
    "Transfer-Encoding: chunked",
    "",
    "0",
  ]),
  "invalid Host": request(["GET / HTTP/1.1", "Host: bad host/../x"]),
  "two Hosts": request(["GET / HTTP/1.1", `Host: ${HOST_WEBAPP}`, "Host: other.example"]),
  "space before colon": request(["GET / HTTP/1.1", `Host : ${HOST_WEBAPP}`]),
};
/** Bytes that look like a TLS record but are no ClientHello. */
const GARBAGE_HELLO = Buffer.concat([
  Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
  Buffer.alloc(511, 0xee),
]);

function unknownSni(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port,
      servername: "nobody.example",
      rejectUnauthorized: false,
    });
    const t = setTimeout(() => done("timeout"), 5_000);
    const done = (how: string) => {
      clearTimeout(t);
      s.destroy();
      resolve(how);
    };
    s.on("secureConnect", () => done("handshake completed"));
    s.on("error", (e: NodeJS.ErrnoException) => done(e.code ?? "error"));
    s.on("close", () => done("closed"));
  });
}

async function hostileLoop(https: number, http: number): Promise<void> {
  const raw = Object.entries(RAW_HTTP1);
  const floods = ["settings", "ping", "rapid-reset", "uppercase-name", "continuation"];
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  let lastFlood = 0;
  let lastSlow = 0;
  let flood = 0;
  for (let i = 0; Date.now() < until; i++) {
    // One cheap hostile exchange every 200 ms, an h2 flood every 5 s, a slowloris every 7 s.
    const [name, bytes] = raw[i % raw.length]!;
    const overTls = i % 2 === 1;
    const kind = `h1 ${name} (${overTls ? "tls" : "plain"})`;
    const x = await exchange(overTls ? https : http, bytes, {
      timeoutMs: 3_000,
      ...(overTls ? { tls: { servername: HOST_WEBAPP } } : {}),
    });
    hostileDone(kind, firstLine(x.data, x.how));
    if (i % 3 === 0) hostileDone("unknown SNI", await unknownSni(https));
    if (i % 3 === 1) {
      const g = await exchange(https, GARBAGE_HELLO, { timeoutMs: 3_000 });
      hostileDone("garbage ClientHello", g.data.length ? `${g.data.length} bytes back` : `closed (${g.how})`);
    }
    if (Date.now() - lastSlow > 7_000 && pending.size < 2) {
      lastSlow = Date.now();
      // Half a header, then silence; the client gives up after 3 s, as an attacker's socket would.
      const half = `GET /slow HTTP/1.1\r\nHost: ${HOST_WEBAPP}\r\nX-Slow: `;
      track(
        exchange(http, half, { halfClose: false, timeoutMs: 3_000 }).then((s) =>
          hostileDone("slowloris (abandoned at 3 s)", firstLine(s.data, s.how)),
        ),
      );
    }
    if (Date.now() - lastFlood > 5_000 && Date.now() + 5_000 < until) {
      lastFlood = Date.now();
      const attack = floods[flood++ % floods.length]!;
      track(
        h2Hostile(attack, { port: https, sni: HOST_WEBAPP, ca: book.webappCaChain }, 5_000)
          .then((v) =>
            hostileDone(
              `h2 ${attack}`,
              v.goaway !== null
                ? `GOAWAY ${v.goaway}`
                : v.closed
                  ? "closed"
                  : v.status.length
                    ? `status ${v.status[0]}`
                    : v.rst.length
                      ? `RST ${v.rst[0]}`
                      : "answered",
            ),
          )
          .catch((e: Error) => hostileDone(`h2 ${attack}`, `client error ${e.message.slice(0, 60)}`)),
      );
    }
    await sleep(200);
  }
  await Promise.all(pending);
}

// ---- reloads ---------------------------------------------------------------------------------

/** routes.yaml: the webapp host, and with `extra` the catalog host too (its server and route). */
function soakConfig(https: number, http: number, echo: number, extra: boolean): string {
  const server = extra
    ? `\n            - hosts: [${HOST_CATALOG}]\n              tls: { mode: SIMPLE, credential: catalog-credential }`
    : "";
  const route = extra
    ? `\n        - hosts: [${HOST_CATALOG}]\n          http:\n            - directResponse: { status: 200, body: extra }`
    : "";
  return (
    yaml`
      listeners:
        - name: https
          address: 127.0.0.1
          port: ${https}
          protocol: HTTPS
          servers:
            - hosts: [${HOST_WEBAPP}]
              tls: { mode: SIMPLE, credential: webapp-credential }${server}
        - { name: http, address: 127.0.0.1, port: ${http}, protocol: HTTP, hosts: [${HOST_WEBAPP}] }
      services:
        echo: http://127.0.0.1:${echo}
      routes:
        - hosts: [${HOST_WEBAPP}]
          http:
            - route: [{ destination: echo }]${route}
    ` + bookCredentials
  );
}

const reloads = { applied: 0, refused: 0, asked: 0, problems: [] as string[] };
const refused = (problem: string) => {
  reloads.refused++;
  reloads.problems.push(problem);
};

/** Every RELOAD_SECONDS: the second host in or out, then SIGHUP or POST /reload in turn. */
async function reloadLoop(
  write: (extra: boolean) => void,
  pid: number,
  admin: number,
  output: () => string,
): Promise<void> {
  const seen = (re: RegExp) => (output().match(re) ?? []).length;
  for (let i = 1; Date.now() + RELOAD_SECONDS * 1_000 < until; i++) {
    await sleep(RELOAD_SECONDS * 1_000);
    write(i % 2 === 1);
    reloads.asked++;
    if (i % 2 === 1) {
      // The log keeps its last 20 KB: count the lines as they come, not at the end.
      const before = seen(/reloaded: |reload refused/g);
      process.kill(pid, "SIGHUP");
      const deadline = Date.now() + 30_000;
      while (seen(/reloaded: |reload refused/g) === before && Date.now() < deadline) await sleep(50);
      const line =
        output()
          .match(/(reloaded: |reload refused)[^\n]*/g)
          ?.at(-1) ?? "no answer in 30 s";
      if (line.startsWith("reloaded: ") && seen(/reloaded: |reload refused/g) > before) reloads.applied++;
      else refused(`SIGHUP: ${line}`);
    } else {
      try {
        const res = await fetch(`http://127.0.0.1:${admin}/reload`, { method: "POST" });
        const body = (await res.json()) as { ok: boolean; error?: string };
        if (res.status === 200 && body.ok) reloads.applied++;
        else refused(`POST /reload: ${res.status} ${body.error ?? ""}`);
      } catch (e) {
        refused(`POST /reload: ${(e as Error).message}`);
      }
    }
  }
}

// ---- main ------------------------------------------------------------------------------------

const fmt = (b: number | undefined) => (b === undefined ? "-" : `${(b / MiB).toFixed(1)} MiB`);

async function main(): Promise<number> {
  const echo = await new EchoUpstream().start();
  cleanups.push(() => echo.stop());
  const [https, http, admin] = (await freePorts(3)) as [number, number, number];
  const config = join(dir, "routes.yaml");
  const write = (extra: boolean) => writeFileSync(config, soakConfig(https, http, echo.port, extra));
  write(false);
  const portico = await startPortico([
    "run",
    "-c",
    config,
    "--admin",
    `127.0.0.1:${admin}`,
    "--access-log",
    join(dir, "access.log"),
  ]);
  const pid = portico.proc.pid!;
  let died: string | undefined;
  portico.proc.once("exit", (code, sig) => (died = `exited (${code ?? sig})`));

  const started = Date.now();
  until = started + SECONDS * 1_000;
  portico.proc.once("exit", () => (until = Date.now()));
  const samples: { t: number; rss: number }[] = [];
  const heaps: HeapSample[] = [];
  const sampler = setInterval(() => {
    const rss = rssOf(pid);
    if (rss !== undefined) samples.push({ t: Date.now() - started, rss });
  }, 1_000);
  cleanups.push(() => clearInterval(sampler));
  // The JS heap beside RSS: RSS alone cannot tell a leak (live objects growing) from an
  // allocator or heap that is still sizing itself. Every 2 s, from the admin /metrics.
  const heapSampler = setInterval(() => {
    const t = Date.now() - started;
    void heapOf(admin).then((h) => h && heaps.push({ t, ...h }));
  }, 2_000);
  cleanups.push(() => clearInterval(heapSampler));
  const progressEvery = Math.max(10, Math.round(SECONDS / 12)) * 1_000;
  const progress = setInterval(() => {
    const h = heaps.at(-1);
    console.log(
      `  t=${Math.round((Date.now() - started) / 1_000)} s rss ${fmt(samples.at(-1)?.rss)}` +
        (h ? ` heap used ${fmt(h.used)} of ${fmt(h.total)}, external ${fmt(h.external)}` : ""),
    );
  }, progressEvery);
  cleanups.push(() => clearInterval(progress));

  console.log(
    `soak: ${SECONDS} s on ${RUNTIME} (pid ${pid}), ${CONCURRENCY} valid clients, https :${https}, ` +
      `http :${http}, admin :${admin}, h2 session churn ${H2_CHURN ? "on" : "off"}`,
  );
  const workers = Array.from({ length: CONCURRENCY }, (_, i) => validWorker(i, https, http));
  await sleep(WARMUP_MS);
  const hostileRun = hostileLoop(https, http);
  const reloadRun = RELOAD_SECONDS > 0 ? reloadLoop(write, pid, admin, portico.output) : undefined;
  await Promise.all([...workers, hostileRun, reloadRun]);
  clearInterval(sampler);
  clearInterval(heapSampler);
  clearInterval(progress);
  const endRss = rssOf(pid);
  if (endRss !== undefined) samples.push({ t: Date.now() - started, rss: endRss });

  let metrics = "";
  try {
    metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  } catch (e) {
    metrics = "";
    console.log(`metrics scrape failed: ${(e as Error).message}`);
  }
  if (portico.proc.exitCode !== null || portico.proc.signalCode !== null) died ??= "exited";

  // ---- summary ----
  // A garbage-collected heap breathes (Deno's swings by 200 MiB between collections), so each
  // point is the median of five one-second samples around it, not one sample.
  const after = samples.filter((s) => s.t >= MEMORY_WARMUP_MS);
  const median = (xs: { rss: number }[]) => {
    const v = xs.map((x) => x.rss).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)] : undefined;
  };
  const mid = Math.floor(after.length / 2);
  const start = median(after.slice(0, 5));
  const middle = median(after.slice(Math.max(0, mid - 2), mid + 3));
  const end = median(after.slice(-5));
  const max = Math.max(...samples.map((s) => s.rss));
  const okTotal = [...valid.values()].reduce((n, t) => n + t.ok, 0);
  const failedTotal = [...valid.values()].reduce((n, t) => n + t.failed, 0);
  const rssOk = start !== undefined && end !== undefined && end <= rssLimit(start);

  console.log("\nvalid requests               ok  failed  errors");
  for (const [kind, t] of [...valid].sort()) {
    const errs = [...t.errors].map(([e, n]) => `${e}×${n}`).join(", ");
    console.log(`  ${kind.padEnd(24)} ${String(t.ok).padStart(6)}  ${String(t.failed).padStart(6)}  ${errs}`);
  }
  console.log(`  ${"total".padEnd(24)} ${String(okTotal).padStart(6)}  ${String(failedTotal).padStart(6)}`);
  console.log(`  (${(okTotal / SECONDS).toFixed(0)} req/s over ${SECONDS} s)`);
  console.log("\nhostile                               runs  outcomes");
  for (const [kind, h] of [...hostile].sort()) {
    const outs = [...h.outcomes].map(([o, n]) => `${o}×${n}`).join(", ");
    console.log(`  ${kind.padEnd(36)} ${String(h.runs).padStart(4)}  ${outs}`);
  }
  if (RELOAD_SECONDS > 0)
    console.log(
      `\nreloads (every ${RELOAD_SECONDS} s, a host added or removed): ${reloads.asked} asked, ` +
        `${reloads.applied} applied, ${reloads.refused} not` +
        (reloads.problems.length ? ` (${reloads.problems.slice(0, 3).join("; ")})` : ""),
    );
  console.log(
    `\nRSS of portico (medians of 5 s): start ${fmt(start)} (after ${MEMORY_WARMUP_MS / 1000} s warm-up), ` +
      `middle ${fmt(middle)}, ` +
      `end ${fmt(end)}, max ${fmt(max)}; ${samples.length} samples`,
  );
  // The heap's floor per third of the run after the warm-up: what survives collections.
  const heapFloor = (from: number, to: number) => {
    const v = heaps.filter((h) => h.t >= from && h.t < to).map((h) => h.used);
    return v.length ? Math.min(...v) : undefined;
  };
  const lastT = samples.at(-1)?.t ?? SECONDS * 1_000;
  const third = (lastT - MEMORY_WARMUP_MS) / 3;
  const [heapStart, heapMiddle, heapEnd] = [0, 1, 2].map((i) =>
    heapFloor(MEMORY_WARMUP_MS + i * third, MEMORY_WARMUP_MS + (i + 1) * third + 1),
  );
  // Bun, Deno and Node all report heapUsed; without samples (a scrape failing) only RSS judges.
  const heapOk = heapStart === undefined || heapEnd === undefined || heapEnd <= heapFloorLimit(heapStart);
  console.log(
    `JS heap used (floor of each third after the warm-up): start ${fmt(heapStart)}, ` +
      `middle ${fmt(heapMiddle)}, end ${fmt(heapEnd)}; ${heaps.length} samples`,
  );
  const step = Math.max(1, Math.round(SECONDS / 12));
  const curve = samples.filter((_, i) => i % step === 0).map((s) => (s.rss / MiB).toFixed(0));
  console.log(`RSS every ${step} s (MiB): ${curve.join(" ")}`);
  const heapStep = Math.max(1, Math.round(heaps.length / 12));
  const heapCurve = heaps.filter((_, i) => i % heapStep === 0);
  console.log(
    `JS heap used / total every ${heapStep * 2} s (MiB): ` +
      heapCurve.map((h) => `${(h.used / MiB).toFixed(0)}/${(h.total / MiB).toFixed(0)}`).join(" "),
  );
  console.log(
    `RSS rule: end <= start × 1.5 + 30 MiB = ${fmt(start === undefined ? undefined : rssLimit(start))}: ` +
      (rssOk ? "ok" : "FAILED"),
  );
  console.log(
    `heap rule: end floor <= start floor × 1.2 + 8 MiB = ` +
      `${fmt(heapStart === undefined ? undefined : heapFloorLimit(heapStart))}: ${heapOk ? "ok" : "FAILED"}`,
  );

  if (metrics) {
    try {
      const { samples: ms } = parseExposition(metrics);
      const byClass = new Map<string, number>();
      for (const s of ms.filter((s) => s.name === "portico_http_requests_total")) {
        const cls = s.labels.code_class ?? "?";
        byClass.set(cls, (byClass.get(cls) ?? 0) + s.value);
      }
      const reasons = new Map<string, number>();
      for (const s of ms.filter((s) => s.name === "portico_tls_handshake_failures_total")) {
        const r = s.labels.reason ?? "?";
        reasons.set(r, (reasons.get(r) ?? 0) + s.value);
      }
      const line = (m: Map<string, number>) => [...m].map(([k, v]) => `${k}=${v}`).join(" ") || "(none)";
      console.log(
        `metrics: portico_http_requests_total by code_class: ${line(byClass)} (valid ok here: ${okTotal})`,
      );
      console.log(`metrics: portico_tls_handshake_failures_total by reason: ${line(reasons)}`);
    } catch (e) {
      console.log(`metrics unreadable: ${(e as Error).message}`);
    }
  }

  const failures: string[] = [];
  if (failedTotal > 0) failures.push(`${failedTotal} valid requests failed`);
  if (okTotal === 0) failures.push("no valid request succeeded");
  if (reloads.refused > 0) failures.push(`${reloads.refused} reloads did not apply`);
  if (RELOAD_SECONDS > 0 && reloads.applied === 0) failures.push("no reload applied");
  if (!rssOk) failures.push("RSS grew past the rule");
  if (!heapOk) failures.push("the JS heap's floor grew past the rule");
  if (died) failures.push(`portico ${died}:\n${portico.output().slice(-2_000)}`);
  console.log(failures.length ? `\nSOAK FAILED: ${failures.join("; ")}` : "\nSOAK PASSED");
  return failures.length ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`soak: ${(e as Error).stack ?? e}`);
} finally {
  await cleanup();
}
process.exit(code);
