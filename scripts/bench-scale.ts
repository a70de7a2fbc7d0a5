// `npm run bench:scale`: what N HTTPS hosts on one port, each with its own certificate, cost.
//
// For each N (default 10, 1000, 10000), one Portico process on a config of N hosts
// (h<i>.scale.test, credential c<i>, one listener on 127.0.0.1, one catch-all route answering
// 200 directly; `portico run --access-log off --watch false`, so that only the benchmark's SIGHUPs
// reload) reports:
//   startup     spawn of the process → its "serving" line (ms), and the process's CPU time then
//               (utime+stime, ms): what startup costs when other work shares the cores
//   RSS         VmRSS of the process (the one that owns the sockets), 1 s after "serving" (MiB)
//   fds         entries of /proc/PID/fd before any traffic, and with K TLS client connections open
//               (each did one keep-alive request, to K different hosts)
//   lookup      in-process: one SNI lookup plus one virtual-host lookup (HostTable.match, what
//               bun-sni's front and http/app.ts do per connection / request) with N exact hosts,
//               ns per pair; independent of Portico's process
//   reload      SIGHUP → the "reloaded:" line (ms), and Portico's CPU time meanwhile (utime+stime,
//               ms, requests served meanwhile included), for a reload that changes nothing,
//               one that changes only a route's body, one that adds a line to `settings:` (the
//               first entry: every entry after it moves), and one that adds a host and its
//               credential (what an operator does most); meanwhile one keep-alive HTTPS client sends
//               requests back to back, and "stall" is its longest request (ms): how long the
//               event loop was blocked; "stall without reload" is the same stream's longest
//               request over 2.5 s with no reload, the floor that the process, its garbage
//               collector and the client on the same cores already give; and the same with the
//               rotation's second client opening new TLS connections meanwhile (its floor)
//   rotation    one host's certificate file replaced, then SIGHUP; from the signal until 2.5 s
//               after "reloaded:", one client opens new TLS connections back to back (a request
//               on each) and the keep-alive client keeps going: "refused" counts the new
//               connections that failed, "stall" is the longest request of either
//   memory      VmRSS right after the reloads above, and the process's peak (VmHWM) (MiB)
//   idle        the same without traffic: a reload that changes nothing, and one that puts host
//               0's first certificate back (SIGHUP → "reloaded:", ms / CPU ms): the reload's own cost
//   nginx       (--nginx) nginx on the same certificates, one worker: startup (spawn → port
//               accepts) and RSS of master + worker, for the ratio
//
// Flags:
//   --hosts 10,1000,10000   the host counts
//   --runtime bun|deno|node Portico's runtime (default bun; node runs the bundle, as the tests do)
//   --adapter NAME          passed to `portico run --adapter` (default: Portico's choice)
//   --connections K         client connections held open for the fds figure (default 100)
//   --nginx                 also start nginx on the same certificates
//   --skip-reload           startup, RSS, fds and lookup only
// Certificates (one EC P-256 CA, one EC leaf per host, src/certs/generate.ts) are made once and
// cached under .bench/scale-certs/ (h<i>.crt/.key, keys 0600; more are added when a larger N asks
// for them; 10,000 take about 25 s). Output: a Markdown table on stdout, then each reload's own
// "reloaded:" line (what it did, credentials parsed, its duration as Portico measured it).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { Agent, request } from "node:https";
import { connect, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { generateCa, generateLeaf, loadSigningCa, type SigningCa } from "../src/certs/generate.ts";
import { HostTable } from "../src/util/host-table.ts";
import { buildNodeBundle, porticoCommand, ROOT, type Runtime } from "./runtimes.ts";

interface Options {
  hosts: number[];
  runtime: Runtime;
  adapter?: string;
  connections: number;
  nginx: boolean;
  reload: boolean;
}

function parseFlags(argv: string[]): Options {
  const o: Options = {
    hosts: [10, 1000, 10000],
    runtime: "bun",
    connections: 100,
    nginx: false,
    reload: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--hosts") o.hosts = value().split(",").map(Number);
    else if (a === "--runtime") o.runtime = value() as Runtime;
    else if (a === "--adapter") o.adapter = value();
    else if (a === "--connections") o.connections = Number(value());
    else if (a === "--nginx") o.nginx = true;
    else if (a === "--skip-reload") o.reload = false;
    else throw new Error(`unknown flag ${a} (see the header of scripts/bench-scale.ts)`);
  }
  if (o.hosts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("--hosts: positive integers");
  return o;
}

const CERTS = join(ROOT, ".bench/scale-certs");
const host = (i: number) => `h${i}.scale.test`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Portico or nginx running now, stopped if the benchmark is interrupted. */
const running = new Set<ChildProcess>();
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    for (const c of running) c.kill("SIGKILL");
    process.exit(130);
  });

/** The CA and at least `n` leaves (plus one spare, "rot", for the rotation), made once. */
async function ensureCerts(n: number): Promise<void> {
  mkdirSync(CERTS, { recursive: true });
  const caCrt = join(CERTS, "ca.crt");
  const caKey = join(CERTS, "ca.key");
  if (!existsSync(caCrt)) {
    const ca = await generateCa({ name: "bench-scale CA" });
    writeFileSync(caKey, ca.keyPem);
    writeFileSync(caCrt, ca.certPem);
  }
  const ca = await loadSigningCa(readFileSync(caCrt, "utf8"), readFileSync(caKey, "utf8"));
  const have = new Set(readdirSync(CERTS));
  const missing = [...Array(n).keys()].filter((i) => !have.has(`h${i}.key`));
  if (!have.has("rot.key")) missing.push(-1);
  if (missing.length > 0) process.stderr.write(`making ${missing.length} certificates in ${CERTS}\n`);
  const started = performance.now();
  for (let at = 0; at < missing.length; at += 200) {
    await Promise.all(missing.slice(at, at + 200).map((i) => leaf(ca, i)));
    if (missing.length > 1000) process.stderr.write(`  ${Math.min(at + 200, missing.length)}\r`);
  }
  if (missing.length > 0) process.stderr.write(`  done in ${ms(performance.now() - started)} ms\n`);
}

async function leaf(ca: SigningCa, i: number): Promise<void> {
  const name = i < 0 ? "rot" : `h${i}`;
  const l = await generateLeaf({ ca, usage: "server", names: [host(Math.max(i, 0))] });
  writeFileSync(join(CERTS, `${name}.crt`), l.certPem);
  // The key last: its presence says the pair is complete.
  writeFileSync(join(CERTS, `${name}.key`), l.keyPem, { mode: 0o600 });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** routes.yaml of n hosts; host 0's files are copies in `dir`, so a rotation touches only them. */
function writeConfig(dir: string, n: number, port: number, body: string, serverHeader?: string): string {
  const lines = [
    "settings:",
    "  admin: off",
    ...(serverHeader ? [`  serverHeader: ${serverHeader}`] : []),
    "listeners:",
    `  - name: tls`,
    `    address: 127.0.0.1`,
    `    port: ${port}`,
    `    protocol: HTTPS`,
    `    servers:`,
  ];
  for (let i = 0; i < n; i++) lines.push(`      - { hosts: [${host(i)}], tls: { credential: c${i} } }`);
  lines.push("credentials:");
  for (let i = 0; i < n; i++) {
    const at = i === 0 ? dir : CERTS;
    lines.push(`  c${i}: { cert: ${join(at, `h${i}.crt`)}, key: ${join(at, `h${i}.key`)} }`);
  }
  lines.push(
    "routes:",
    `  - hosts: ["*"]`,
    `    http:`,
    `      - directResponse: { status: 200, body: "${body}" }`,
  );
  const file = join(dir, "routes.yaml");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const ms = (x: number) => Math.round(x);
const mib = (kib: number) => Math.round(kib / 1024);

/** VmRSS, or with `field` another figure of /proc/PID/status in kB (VmHWM: the peak RSS). */
function rssKiB(pid: number, field = "VmRSS"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : Number.NaN;
}
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

class Portico {
  out = "";
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  constructor(cmd: string[]) {
    this.proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
    this.proc.stdout!.on("data", (d) => (this.out += d));
    this.proc.stderr!.on("data", (d) => (this.out += d));
    running.add(this.proc);
    this.exited = new Promise((r) => this.proc.once("exit", () => r()));
    void this.exited.then(() => running.delete(this.proc));
  }
  async waitFor(re: RegExp, count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.out.match(new RegExp(re.source, "g")) ?? []).length < count) {
      if (this.proc.exitCode !== null) throw new Error(`portico exited:\n${this.out.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${this.out.slice(-3000)}`);
      await sleep(2);
    }
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode === null) this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

function get(port: number, name: string, agent: Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        servername: name,
        headers: { host: name },
        path: "/",
        agent,
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Requests back to back until stopped: the longest one, and how many failed. */
function stream(port: number, fresh: boolean, n: number) {
  const agent = fresh ? false : new Agent({ keepAlive: true, maxSockets: 1 });
  const s = { longest: 0, failed: 0, done: 0, stop: false, finished: Promise.resolve() };
  s.finished = (async () => {
    let i = 0;
    while (!s.stop) {
      const t = performance.now();
      try {
        const status = await get(port, host(i++ % n), agent);
        if (status !== 200) s.failed++;
      } catch {
        s.failed++;
      }
      s.longest = Math.max(s.longest, performance.now() - t);
      s.done++;
    }
    if (agent) agent.destroy();
  })();
  return s;
}

/** SIGHUP → "reloaded:", with a keep-alive request stream (and a new-connection one) meanwhile. */
async function timedReload(p: Portico, port: number, n: number, nth: number, linger: number, fresh: boolean) {
  const ka = stream(port, false, n);
  const nc = fresh ? stream(port, true, n) : undefined;
  await sleep(200);
  ka.longest = 0;
  if (nc) nc.longest = 0;
  const t = performance.now();
  const cpu0 = cpuMs(p.proc.pid!);
  p.proc.kill("SIGHUP");
  await p.waitFor(/reloaded: |reload refused/, nth, 120_000);
  const took = performance.now() - t;
  const cpu = cpuMs(p.proc.pid!) - cpu0;
  const line = p.out.match(/reloaded: [^\n]*|reload refused[^\n]*/g)!.at(-1)!;
  await sleep(linger);
  ka.stop = true;
  if (nc) nc.stop = true;
  await Promise.all([ka.finished, nc?.finished]);
  return {
    ms: ms(took),
    cpu,
    stall: ms(Math.max(ka.longest, nc?.longest ?? 0)),
    refused: nc?.failed ?? 0,
    attempts: nc?.done ?? 0,
    failedKa: ka.failed,
    line: line.replace(/^reloaded: /, ""),
  };
}

/**
 * The keep-alive stream's longest request over 2.5 s with no reload (as long as the longest
 * reload window): what the process, the garbage collector and the client already cost, so that
 * a reload's stall can be told from it.
 */
async function quietStall(port: number, n: number, fresh: boolean): Promise<number> {
  const ka = stream(port, false, n);
  const nc = fresh ? stream(port, true, n) : undefined;
  await sleep(200);
  ka.longest = 0;
  if (nc) nc.longest = 0;
  await sleep(2500);
  ka.stop = true;
  if (nc) nc.stop = true;
  await Promise.all([ka.finished, nc?.finished]);
  return ms(Math.max(ka.longest, nc?.longest ?? 0));
}

/** SIGHUP → "reloaded:" with no traffic: the reload's own time and CPU. */
async function idleReload(p: Portico, nth: number) {
  await sleep(300);
  const t = performance.now();
  const cpu0 = cpuMs(p.proc.pid!);
  p.proc.kill("SIGHUP");
  await p.waitFor(/reloaded: |reload refused/, nth, 120_000);
  return { ms: ms(performance.now() - t), cpu: cpuMs(p.proc.pid!) - cpu0 };
}

/** utime + stime of a process (ms, in clock ticks of 10 ms): a reload's CPU, requests served meanwhile included. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
    .replace(/^.*\) /, "")
    .split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Opens k TLS connections to k hosts, one request each, and keeps them open. */
async function openConnections(port: number, k: number, n: number): Promise<TLSSocket[]> {
  const sockets: TLSSocket[] = [];
  for (let i = 0; i < k; i++) {
    const name = host(i % n);
    const s = await new Promise<TLSSocket>((resolve, reject) => {
      const sock = connect({ host: "127.0.0.1", port, servername: name, rejectUnauthorized: false }, () => {
        sock.write(`GET / HTTP/1.1\r\nhost: ${name}\r\n\r\n`);
        sock.once("data", () => resolve(sock));
      });
      sock.on("error", reject);
    });
    sockets.push(s);
  }
  return sockets;
}

/** ns per (SNI lookup + virtual-host lookup) with n exact hosts. */
function lookupNs(n: number): number {
  const sni = new HostTable<number>();
  const vhosts = new HostTable<number>();
  for (let i = 0; i < n; i++) {
    sni.add(host(i), i);
    vhosts.add(host(i), i);
  }
  vhosts.add("*", -1);
  const names = [...Array(4096).keys()].map((i) => host((i * 7919) % n));
  let sink = 0;
  const run = (iterations: number) => {
    for (let i = 0; i < iterations; i++) {
      const name = names[i & 4095]!;
      sink += sni.match(name)! + vhosts.match(name)!;
    }
  };
  run(200_000);
  const iterations = 2_000_000;
  const t = performance.now();
  run(iterations);
  const ns = ((performance.now() - t) * 1e6) / iterations;
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink);
  return Math.round(ns * 10) / 10;
}

async function nginxFigures(n: number): Promise<{ startup: number; rss: number } | undefined> {
  if (spawnSync("nginx", ["-v"]).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "bench-scale-nginx-"));
  const port = await freePort();
  const servers = [...Array(n).keys()].map(
    (i) =>
      `server { listen 127.0.0.1:${port} ssl; server_name ${host(i)}; ` +
      `ssl_certificate ${join(CERTS, `h${i}.crt`)}; ssl_certificate_key ${join(CERTS, `h${i}.key`)}; ` +
      `location / { return 200 "ok"; } }`,
  );
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log; daemon off;\n` +
      `events { worker_connections 1024; }\n` +
      `http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};\n` +
      `uwsgi_temp_path ${dir}; scgi_temp_path ${dir}; server_names_hash_max_size 65536;\n` +
      `server_names_hash_bucket_size 128;\n${servers.join("\n")}\n}\n`,
  );
  const t = performance.now();
  const proc = spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf")], { stdio: "ignore" });
  running.add(proc);
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        await get(port, host(0), false);
        break;
      } catch {
        if (Date.now() > deadline || proc.exitCode !== null) return undefined;
        await sleep(5);
      }
    }
    const startup = performance.now() - t;
    await sleep(1000);
    const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(/\s+/);
    const rss = [proc.pid!, ...children.filter(Boolean).map(Number)].reduce((a, pid) => a + rssKiB(pid), 0);
    return { startup: ms(startup), rss: mib(rss) };
  } finally {
    proc.kill("SIGQUIT");
    await new Promise((r) => proc.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Row {
  n: number;
  startup: number;
  startupCpu: number;
  rss: number;
  fdsIdle: number;
  fdsBusy: number;
  lookup: number;
  /** The longest request of the same stream over 2.5 s without a reload: the stall's floor. */
  quiet?: number;
  /** The same with the rotation's second client opening new connections meanwhile. */
  quietFresh?: number;
  noChange?: Awaited<ReturnType<typeof timedReload>>;
  routes?: Awaited<ReturnType<typeof timedReload>>;
  settings?: Awaited<ReturnType<typeof timedReload>>;
  addHost?: Awaited<ReturnType<typeof timedReload>>;
  rotation?: Awaited<ReturnType<typeof timedReload>>;
  idle?: Awaited<ReturnType<typeof idleReload>>;
  idleRotation?: Awaited<ReturnType<typeof idleReload>>;
  /** VmRSS right after the reloads, and the process's peak (VmHWM), MiB. */
  rssAfterReloads?: number;
  peakRss?: number;
  nginx?: { startup: number; rss: number };
}

async function measure(o: Options, n: number, nodeBundle: string | undefined): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "bench-scale-"));
  for (const ext of ["crt", "key"])
    writeFileSync(join(dir, `h0.${ext}`), readFileSync(join(CERTS, `h0.${ext}`)));
  const port = await freePort();
  const file = writeConfig(dir, n, port, "one");
  const args = [
    "run",
    "-c",
    file,
    "--access-log",
    "off",
    "--watch",
    "false",
    ...(o.adapter ? ["--adapter", o.adapter] : []),
  ];
  const t = performance.now();
  const p = new Portico(porticoCommand(o.runtime, args, { nodeBundle }));
  try {
    await p.waitFor(/ serving /, 1, 300_000);
    const startup = performance.now() - t;
    const startupCpu = cpuMs(p.proc.pid!);
    await sleep(1000);
    const pid = p.proc.pid!;
    const row: Row = {
      n,
      startup: ms(startup),
      startupCpu,
      rss: mib(rssKiB(pid)),
      fdsIdle: fds(pid),
      fdsBusy: 0,
      lookup: 0,
    };
    const sockets = await openConnections(port, o.connections, n);
    row.fdsBusy = fds(pid);
    for (const s of sockets) s.destroy();
    await sleep(300);
    if (o.reload) {
      row.quiet = await quietStall(port, n, false);
      row.quietFresh = await quietStall(port, n, true);
      row.noChange = await timedReload(p, port, n, 1, 300, false);
      row.idle = await idleReload(p, 2);
      writeConfig(dir, n, port, "two");
      row.routes = await timedReload(p, port, n, 3, 300, false);
      // A line added to `settings:`, the first entry: every entry after it moves.
      writeConfig(dir, n, port, "two", "scale");
      row.settings = await timedReload(p, port, n, 4, 300, false);
      // What an operator does most: one more host and its credential, the rest as it was.
      writeConfig(dir, n + 1, port, "two", "scale");
      row.addHost = await timedReload(p, port, n, 5, 300, false);
      for (const ext of ["crt", "key"])
        writeFileSync(join(dir, `h0.${ext}`), readFileSync(join(CERTS, `rot.${ext}`)));
      row.rotation = await timedReload(p, port, n, 6, 2500, true);
      for (const ext of ["crt", "key"])
        writeFileSync(join(dir, `h0.${ext}`), readFileSync(join(CERTS, `h0.${ext}`)));
      row.idleRotation = await idleReload(p, 7);
      row.rssAfterReloads = mib(rssKiB(pid));
      row.peakRss = mib(rssKiB(pid, "VmHWM"));
    }
    return row;
  } finally {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const o = parseFlags(process.argv.slice(2));
  // One more than the largest N: the "add a host" reload adds host N.
  await ensureCerts(Math.max(...o.hosts) + 1);
  const nodeBundle =
    o.runtime === "node"
      ? buildNodeBundle(join(mkdtempSync(join(tmpdir(), "bench-scale-node-")), "p.mjs"))
      : undefined;
  const rows: Row[] = [];
  for (const n of o.hosts) {
    process.stderr.write(`N=${n}: portico on ${o.runtime}\n`);
    const row = await measure(o, n, nodeBundle);
    row.lookup = lookupNs(n);
    if (o.nginx) {
      process.stderr.write(`N=${n}: nginx\n`);
      row.nginx = await nginxFigures(n);
    }
    process.stderr.write(`${JSON.stringify(row)}\n`);
    rows.push(row);
  }
  const r = (x: Awaited<ReturnType<typeof timedReload>> | undefined) =>
    x ? `${x.ms} / ${x.cpu} / ${x.stall}` : "n/a";
  const idle = (x: Awaited<ReturnType<typeof idleReload>> | undefined) => (x ? `${x.ms} / ${x.cpu}` : "n/a");
  console.log(
    `\nbench:scale, Portico on ${o.runtime}${o.adapter ? ` (--adapter ${o.adapter})` : ""}, ` +
      `${new Date().toISOString()}, K=${o.connections}\n`,
  );
  console.log(
    "| hosts | startup ms | startup CPU ms | RSS MiB | fds idle | fds with K conns | lookup ns " +
      "| stall without reload ms (keep-alive / with new connections) " +
      "| no-change reload ms / CPU ms / stall ms " +
      "| routes reload ms / CPU ms / stall ms | settings reload ms / CPU ms / stall ms " +
      "| add-host reload ms / CPU ms / stall ms | rotation ms / CPU ms / stall ms | rotation refused " +
      "| idle no-change ms / CPU ms | idle rotation ms / CPU ms | RSS after the reloads / peak MiB |" +
      (o.nginx ? " nginx startup ms | nginx RSS MiB |" : ""),
  );
  console.log(`|${"---:|".repeat(o.nginx ? 19 : 17)}`);
  for (const x of rows) {
    const ng = o.nginx ? ` ${x.nginx?.startup ?? "n/a"} | ${x.nginx?.rss ?? "n/a"} |` : "";
    console.log(
      `| ${x.n} | ${x.startup} | ${x.startupCpu} | ${x.rss} | ${x.fdsIdle} | ${x.fdsBusy} | ${x.lookup} | ${x.quiet ?? "n/a"} / ${x.quietFresh ?? "n/a"} | ${r(x.noChange)} ` +
        `| ${r(x.routes)} | ${r(x.settings)} | ${r(x.addHost)} | ${r(x.rotation)} ` +
        `| ${x.rotation ? `${x.rotation.refused} of ${x.rotation.attempts}` : "n/a"} ` +
        `| ${idle(x.idle)} | ${idle(x.idleRotation)} | ${x.rssAfterReloads ?? "n/a"} / ${x.peakRss ?? "n/a"} |${ng}`,
    );
  }
  for (const x of rows)
    if (x.rotation)
      console.log(
        `N=${x.n}: no-change: ${x.noChange?.line}; routes: ${x.routes?.line}; settings: ${x.settings?.line}; ` +
          `add host: ${x.addHost?.line}; rotation: ${x.rotation.line}`,
      );
}

await main();
