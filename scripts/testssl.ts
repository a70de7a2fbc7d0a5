// `npm run testssl [-- bun|deno|node ...]`: testssl.sh (apt package testssl.sh) against a
// SIMPLE HTTPS listener on every adapter of each runtime, with Portico's default TLS settings;
// fails on any HIGH or CRITICAL finding and prints each run's summary. About 25 s per adapter
// (protocols, cipher categories, forward secrecy, vulnerabilities: -p -s -f -U), so it is not
// part of `npm test`; test/e2e/tls-defaults.test.ts checks the same defaults in seconds.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADAPTERS } from "../src/listeners/select.ts";
import { buildNodeBundle, porticoCommand, ROOT, RUNTIMES, type Runtime } from "./runtimes.ts";

const HOST = "webapp.istioinaction.io";
const BOOK = join(ROOT, "test/fixtures/istio-in-action-ch4/certs");
const TIMEOUT_S = 180;

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

const testssl = ["testssl", "testssl.sh"].find((c) => spawnSync(c, ["--version"]).status === 0);
if (!testssl) {
  console.error("testssl.sh is not installed (apt-get install testssl.sh)");
  process.exit(2);
}
const asked = process.argv.slice(2) as Runtime[];
const runtimes = asked.length ? asked : [...RUNTIMES];
const dir = mkdtempSync(join(tmpdir(), "portico-testssl-"));
const nodeBundle = runtimes.includes("node") ? buildNodeBundle(join(dir, "portico.mjs")) : undefined;
let failed = false;

for (const runtime of runtimes) {
  for (const adapter of ADAPTERS.filter((a) => a.runtimes.includes(runtime)).map((a) => a.name)) {
    const port = await freePort();
    const config = join(dir, `${runtime}-${adapter}.yaml`);
    writeFileSync(
      config,
      `settings: { requestTarget: whatwg }
listeners:
  - { name: web, address: 127.0.0.1, port: ${port}, protocol: HTTPS, servers: [{ hosts: ["*"], tls: { credential: web } }] }
credentials:
  web:
    cert: ${join(BOOK, "3_application/certs/webapp.istioinaction.io.cert.pem")}
    key: ${join(BOOK, "3_application/private/webapp.istioinaction.io.key.pem")}
routes: [{ hosts: ["*"], http: [{ directResponse: { status: 200, body: ok } }] }]
`,
    );
    const [cmd, ...args] = porticoCommand(
      runtime,
      ["run", "-c", config, "--admin", "off", "--adapter", adapter, "--watch=false"],
      { nodeBundle },
    );
    const portico = spawn(cmd!, args, { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
    try {
      await serving(portico);
      const json = join(dir, `${runtime}-${adapter}.json`);
      const started = Date.now();
      const run = spawnSync(
        testssl,
        ["--quiet", "--color", "0", "--warnings", "off", "-p", "-s", "-f", "-U"].concat([
          "--ip",
          "127.0.0.1",
          "--jsonfile",
          json,
          `${HOST}:${port}`,
        ]),
        { timeout: TIMEOUT_S * 1000, encoding: "utf8" },
      );
      const seconds = Math.round((Date.now() - started) / 1000);
      const findings = JSON.parse(readFileSync(json, "utf8")) as Finding[];
      const count = (s: string) => findings.filter((f) => f.severity === s).length;
      const bad = findings.filter((f) => f.severity === "HIGH" || f.severity === "CRITICAL");
      const notes = findings.filter((f) => ["MEDIUM", "LOW", "WARN"].includes(f.severity));
      console.log(
        `${runtime} ${adapter}: ${bad.length === 0 ? "ok" : "FAIL"} in ${seconds} s ` +
          `(OK ${count("OK")}, INFO ${count("INFO")}, LOW ${count("LOW")}, MEDIUM ${count("MEDIUM")}, ` +
          `HIGH ${count("HIGH")}, CRITICAL ${count("CRITICAL")}, WARN ${count("WARN")})`,
      );
      for (const f of [...bad, ...notes]) console.log(`  ${f.severity} ${f.id}: ${f.finding}`);
      if (run.status !== 0 && run.status !== null) console.log(`  testssl.sh exited ${run.status}`);
      if (bad.length > 0 || run.status === null) failed = true;
    } finally {
      portico.kill("SIGTERM");
    }
  }
}
process.exit(failed ? 1 : 0);

function serving(p: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`portico did not start:\n${out}`)), 15_000);
    const on = (d: Buffer) => {
      out += d;
      if (/ serving /.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    p.stdout!.on("data", on);
    p.stderr!.on("data", on);
    p.once("exit", (code) => reject(new Error(`portico exited with ${code}:\n${out}`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
