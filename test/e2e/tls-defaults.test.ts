// TLS defaults on every adapter of the runtime, with a server that sets no cipherSuites: TLS 1.2+
// with forward-secret AEAD suites only (src/tls/server-defaults.ts), and session resumption by
// ticket (src/tls/ticket-keys.ts; on Node, a rotated key ends the old tickets). Probed with the
// openssl command-line client over real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADAPTERS } from "../../src/listeners/select.ts";
import { HOST_WEBAPP, book } from "../helpers/book.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import { RUNTIME, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

const ROTATION_MS = 1500;
const adapters = ADAPTERS.filter((a) => a.runtimes.includes(RUNTIME)).map((a) => a.name);
const running = new Map<string, { p: PorticoProcess; port: number }>();

/** `openssl s_client` once; its output (stdout and stderr), bounded in time. */
function sClient(port: number, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      HOST_WEBAPP,
      ...args,
    ]);
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => c.kill("SIGKILL"), 5_000);
    c.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    c.stdin.end();
  });
}

/** Whether a TLS 1.2 handshake offering only `cipher` succeeds (the client allows weak ones). */
async function accepts(port: number, cipher: string): Promise<boolean> {
  const out = await sClient(port, ["-tls1_2", "-cipher", `${cipher}:@SECLEVEL=0`]);
  return new RegExp(`Cipher is ${cipher}`).test(out);
}

beforeAll(async () => {
  const ports = await freePorts(adapters.length);
  const dir = mkdtempSync(join(tmpdir(), "portico-tls-"));
  await Promise.all(
    adapters.map(async (adapter, i) => {
      const port = ports[i]!;
      // A "*" server and requestTarget whatwg: a listener every adapter can serve.
      const file = writeConfig(`settings: { requestTarget: whatwg }
listeners:
  - { name: web, address: 127.0.0.1, port: ${port}, protocol: HTTPS, servers: [{ hosts: ["*"], tls: { credential: web } }] }
credentials:
  web: { cert: ${book.webappCert}, key: ${book.webappKey} }
routes: [{ hosts: ["*"], http: [{ directResponse: { status: 200, body: ok } }] }]
`);
      const p = await startPorticoWith(["run", "-c", file, "--admin", "off", "--adapter", adapter], {
        env: { PORTICO_TICKET_KEY_ROTATION_MS: String(ROTATION_MS) },
        cwd: dir,
      });
      running.set(adapter, { p, port });
    }),
  );
});
afterAll(async () => {
  await Promise.all([...running.values()].map((r) => r.p.stop()));
});

describe.each(adapters)("%s", (adapter) => {
  const port = () => running.get(adapter)!.port;

  test("TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305", async () => {
    expect(await accepts(port(), "ECDHE-RSA-AES128-GCM-SHA256")).toBe(true);
    expect(await accepts(port(), "ECDHE-RSA-CHACHA20-POLY1305")).toBe(true);
    expect(await accepts(port(), "ECDHE-RSA-AES256-GCM-SHA384")).toBe(true);
  });

  test("no CBC suite, no static-RSA key exchange", async () => {
    for (const weak of ["ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384", "AES128-GCM-SHA256", "AES128-SHA"])
      expect(`${weak}: ${await accepts(port(), weak)}`).toBe(`${weak}: false`);
  });

  test("TLS 1.0 and 1.1 refused; TLS 1.3 served", async () => {
    for (const v of ["-tls1", "-tls1_1"]) {
      const out = await sClient(port(), [v, "-cipher", "DEFAULT:@SECLEVEL=0"]);
      expect(out).not.toMatch(/Cipher is [A-Z]/);
    }
    expect(await sClient(port(), ["-tls1_3"])).toMatch(/New, TLSv1\.3, Cipher is TLS_/);
  });

  test("TLS 1.2 sessions resume by ticket; on Node a rotated ticket key ends the old tickets", async () => {
    const sess = join(mkdtempSync(join(tmpdir(), "portico-sess-")), "s.pem");
    // A fresh ticket right after a rotation, so that the next one cannot fall between the two.
    if (RUNTIME === "node") await sleep(ROTATION_MS - (Date.now() % ROTATION_MS) + 50);
    const first = await sClient(port(), ["-tls1_2", "-sess_out", sess]);
    expect(first).toMatch(/^New, TLSv1\.2/m);
    expect(first).toMatch(/TLS session ticket:/);
    expect(await sClient(port(), ["-tls1_2", "-sess_in", sess])).toMatch(/^Reused, TLSv1\.2/m);
    if (RUNTIME !== "node") return; // Bun and Deno rotate their own keys (src/tls/ticket-keys.ts)
    await sleep(ROTATION_MS + 300);
    expect(await sClient(port(), ["-tls1_2", "-sess_in", sess])).toMatch(/^New, TLSv1\.2/m);
  });
});
