// Config that reloads itself: Portico watches the files it loaded, and a change is applied as
// SIGHUP applies it (test/e2e/reload.test.ts), without a failed request; an invalid change is
// logged and changes nothing; editors' rename-writes and Kubernetes' `..data` symlink swap of a
// mounted Secret are seen; a rotated certificate is what the next handshake gets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { freePorts, sleep } from "../helpers/net.ts";
import { certHash, TestPki, type Pem } from "../helpers/pki.ts";
import { startPorticoWith, type PorticoProcess } from "../helpers/portico.ts";

const HOST = "w.test";
const pki = new TestPki();
const first = pki.issue("first", HOST, [`DNS:${HOST}`], "serverAuth");
const second = pki.issue("second", HOST, [`DNS:${HOST}`], "serverAuth");

/** A Kubernetes-mounted Secret: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/. */
function mountedSecret(pem: Pem): string {
  const dir = mkdtempSync(join(tmpdir(), "portico-secret-"));
  put(dir, "..2026_11_30_10_00_00.000000001", pem);
  symlinkSync("..2026_11_30_10_00_00.000000001", join(dir, "..data"));
  symlinkSync("..data/tls.crt", join(dir, "tls.crt"));
  symlinkSync("..data/tls.key", join(dir, "tls.key"));
  return dir;
}
function put(dir: string, stamp: string, pem: Pem) {
  mkdirSync(join(dir, stamp));
  copyFileSync(pem.crt, join(dir, stamp, "tls.crt"));
  copyFileSync(pem.key, join(dir, stamp, "tls.key"));
}
/** What the kubelet does on an update: a new timestamped folder, then `..data` renamed over. */
function kubeletUpdate(dir: string, stamp: string, pem: Pem) {
  put(dir, stamp, pem);
  symlinkSync(stamp, join(dir, "..data_tmp"));
  renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
}

function routesYaml(body: string, http: number, https: number, secret: string, extra = ""): string {
  return `${extra}listeners:
  - { name: web, address: 127.0.0.1, port: ${http}, protocol: HTTP }
  - name: tls
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:
      - hosts: [${HOST}]
        tls: { credential: c }
credentials:
  c: ${secret}
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: "${body}" }
`;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });
/** One GET; `fresh` opens a new connection and closes it, else the keep-alive agent is used. */
function get(port: number, fresh = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        agent: fresh ? false : agent,
        headers: fresh ? { connection: "close" } : {},
      },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** The SHA-256 fingerprint of the certificate a new TLS handshake is given. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, servername: HOST, rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.setTimeout(5_000, () => s.destroy(new Error("timeout")));
    s.on("error", reject);
  });
}

const reloadsIn = (out: string) => (out.match(/reloaded: |reload refused/g) ?? []).length;

/** Waits (bounded) until `p` logged `n` reload outcomes in all. */
async function reloads(p: PorticoProcess, n: number, ms = 8_000): Promise<string> {
  const deadline = Date.now() + ms;
  while (reloadsIn(p.output()) < n && Date.now() < deadline) await sleep(20);
  expect(reloadsIn(p.output())).toBe(n);
  return p.output();
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 8_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await f();
  while (!ok(v) && Date.now() < deadline) {
    await sleep(25);
    v = await f();
  }
  return v;
}

describe("watching the loaded files", () => {
  let p: PorticoProcess, http: number, https: number, file: string, secret: string;
  beforeAll(async () => {
    [http, https] = (await freePorts(2)) as [number, number];
    secret = mountedSecret(first);
    file = join(mkdtempSync(join(tmpdir(), "portico-watch-")), "routes.yaml");
    writeFileSync(file, routesYaml("v1", http, https, secret));
    p = await startPorticoWith(["run", "-c", file, "--admin", "off"]);
  });
  afterAll(async () => {
    agent.destroy();
    await p?.stop();
  });

  test("it says what it watches", () => {
    expect(p.output()).toMatch(/watching \d+ files for changes/);
  });

  test("an edit under a stream of requests takes effect with no failed request", async () => {
    const bodies: string[] = [];
    let failed = 0;
    // 200 requests (or more) over ~2 s, half on keep-alive connections, half on new ones; the
    // file is edited after the first quarter.
    // On a busy machine the reload may land later: the stream goes on (up to 60 rounds) until
    // the new answer has been seen for a few rounds.
    for (let round = 0; round < 60 && (round < 20 || bodies.slice(-30).some((b) => b !== "v2")); round++) {
      if (round === 5) writeFileSync(file, routesYaml("v2", http, https, secret));
      const batch = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => get(http, i % 2 === 1)));
      for (const r of batch) {
        if (r.status === "fulfilled" && r.value.status === 200) bodies.push(r.value.body);
        else failed++;
      }
      await sleep(100);
    }
    expect(failed).toBe(0);
    expect(bodies.length).toBeGreaterThanOrEqual(200);
    expect(bodies[0]).toBe("v1");
    expect(bodies.at(-1)).toBe("v2");
    // Once the new routes are in, no request gets the old ones again.
    expect(bodies.slice(bodies.indexOf("v2")).every((b) => b === "v2")).toBe(true);
    const log = await reloads(p, 1);
    expect(log).toContain(`file change: reloading ${file} (${file} changed)`);
    expect(log).toContain("reloaded: 2 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed");
  });

  test("an invalid edit is logged with its file and field, and changes nothing", async () => {
    writeFileSync(file, routesYaml("v3", http, https, secret).replace("status: 200", "status: 2000"));
    const log = await reloads(p, 2);
    expect(log).toMatch(
      new RegExp(
        `reload refused, still serving the previous configuration: ${file}:\\d+: routes\\[0\\]\\.http\\[0\\]\\.directResponse\\.status`,
      ),
    );
    expect((await get(http, true)).body).toBe("v2");
  });

  test("an editor's save (a temporary file renamed over the original) reloads", async () => {
    const tmp = `${file}.swp`;
    writeFileSync(tmp, routesYaml("v4", http, https, secret));
    renameSync(tmp, file);
    await reloads(p, 3);
    expect((await get(http, true)).body).toBe("v4");
  });

  test("Kubernetes' ..data swap of the Secret folder reloads; the next handshake gets the new certificate", async () => {
    expect(await servedFingerprint(https)).toBe(certHash(first.crt));
    kubeletUpdate(secret, "..2026_11_30_11_00_00.000000002", second);
    const log = await reloads(p, 4);
    expect(log).toContain("reloaded: 2 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed");
    const fp = await until(
      () => servedFingerprint(https),
      (f) => f === certHash(second.crt),
    );
    expect(fp).toBe(certHash(second.crt));
    expect(certHash(second.crt)).not.toBe(certHash(first.crt));
  });

  test("rewriting the same bytes reloads nothing", async () => {
    writeFileSync(file, routesYaml("v4", http, https, secret));
    await sleep(1_200);
    expect(reloadsIn(p.output())).toBe(4);
  });
});

describe("--watch=false and settings.watch: false", () => {
  for (const how of ["flag", "setting"] as const) {
    test(`${how}: an edit is not applied until SIGHUP`, async () => {
      const [http, https] = (await freePorts(2)) as [number, number];
      const secret = mountedSecret(first);
      const extra = how === "setting" ? "settings: { watch: false }\n" : "";
      const file = join(mkdtempSync(join(tmpdir(), "portico-nowatch-")), "routes.yaml");
      writeFileSync(file, routesYaml("v1", http, https, secret, extra));
      const args = ["run", "-c", file, "--admin", "off", ...(how === "flag" ? ["--watch=false"] : [])];
      const p = await startPorticoWith(args);
      try {
        expect(p.output()).not.toContain("watching");
        writeFileSync(file, routesYaml("v2", http, https, secret, extra));
        await sleep(1_500); // the watcher would have reloaded after 300 ms
        expect(reloadsIn(p.output())).toBe(0);
        expect((await get(http, true)).body).toBe("v1");
        p.proc.kill("SIGHUP");
        await reloads(p, 1);
        expect((await get(http, true)).body).toBe("v2");
      } finally {
        await p.stop();
      }
    });
  }

  test("settings.watch: false written into a watched file stops the watching after that reload", async () => {
    const [http, https] = (await freePorts(2)) as [number, number];
    const secret = mountedSecret(first);
    const file = join(mkdtempSync(join(tmpdir(), "portico-nowatch-")), "routes.yaml");
    const off = "settings: { watch: false }\n";
    writeFileSync(file, routesYaml("v1", http, https, secret));
    const p = await startPorticoWith(["run", "-c", file, "--admin", "off"]);
    try {
      writeFileSync(file, routesYaml("v2", http, https, secret, off));
      await reloads(p, 1);
      // Logged by the watcher once it has seen the reload's result, just after "reloaded:".
      const stopped = "no longer watching files for changes (settings.watch: false)";
      const out = await until(
        async () => p.output(),
        (o) => o.includes(stopped),
        4_000,
      );
      expect(out).toContain(stopped);
      expect((await get(http, true)).body).toBe("v2");
      writeFileSync(file, routesYaml("v3", http, https, secret, off));
      await sleep(1_500);
      expect(reloadsIn(p.output())).toBe(1);
      expect((await get(http, true)).body).toBe("v2");
    } finally {
      await p.stop();
    }
  });
});
