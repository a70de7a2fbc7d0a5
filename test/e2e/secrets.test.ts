// Secrets at startup and on the admin listener: a private key others can read is a warning
// naming file and mode (at startup and on reload); an admin listener off loopback needs
// PORTICO_ADMIN_TOKEN, and a set token is then asked of every admin endpoint but the probes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_WEBAPP, book } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import { startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

const TOKEN = "s3cret-admin-token";
let p: PorticoProcess, admin: number, https: number, key: string;

beforeAll(async () => {
  [https, admin] = (await freePorts(2)) as [number, number];
  key = join(mkdtempSync(join(tmpdir(), "portico-secrets-")), "tls.key");
  copyFileSync(book.webappKey, key);
  chmodSync(key, 0o644);
  const file = writeConfig(`listeners:
  - name: https
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { credential: web }
credentials:
  web: { cert: ${book.webappCert}, key: ${key} }
routes: [{ hosts: ["*"], http: [{ directResponse: { status: 200, body: ok } }] }]
`);
  p = await startPorticoWith(["run", "-c", file, "--admin", `127.0.0.1:${admin}`], {
    env: { PORTICO_ADMIN_TOKEN: TOKEN },
  });
});
afterAll(() => p?.stop());

describe.skipIf(process.platform === "win32")("a key file readable by others", () => {
  test("a warning at startup naming the file and its mode; the key is still used", async () => {
    expect(p.output()).toContain(`private key ${key} is readable by its group and every user (mode 0644)`);
    const r = await curl([
      `https://${HOST_WEBAPP}:${https}/`,
      "--cacert",
      book.webappCaChain,
      "--resolve",
      `${HOST_WEBAPP}:${https}:127.0.0.1`,
    ]);
    expect(r.status).toBe(200);
  });

  test("on reload, again while it stays readable; not once it is 0600", async () => {
    const count = () => p.output().split("is readable by").length - 1;
    const before = count();
    p.proc.kill("SIGHUP");
    for (let i = 0; i < 100 && count() === before; i++) await sleep(50);
    expect(count()).toBe(before + 1);
    chmodSync(key, 0o600);
    const reloads = () => (p.output().match(/reloaded|reload refused|unchanged/g) ?? []).length;
    const n = reloads();
    p.proc.kill("SIGHUP");
    for (let i = 0; i < 100 && reloads() === n; i++) await sleep(50);
    expect(reloads()).toBeGreaterThan(n);
    expect(count()).toBe(before + 1);
  });
});

describe("admin token (PORTICO_ADMIN_TOKEN)", () => {
  const get = (path: string, headers: string[] = []) =>
    curl([`http://127.0.0.1:${admin}${path}`, ...headers.flatMap((h) => ["-H", h])]);

  test("every endpoint needs it: 401 with WWW-Authenticate without it, or with a wrong one", async () => {
    for (const path of ["/certs", "/config", "/metrics", "/upstreams"]) {
      const r = await get(path);
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe('Bearer realm="portico-admin"');
    }
    expect((await get("/certs", ["authorization: Bearer wrong"])).status).toBe(401);
    expect((await get("/certs", [`authorization: Basic ${TOKEN}`])).status).toBe(401);
    const reload = await curl([`http://127.0.0.1:${admin}/reload`, "-X", "POST"]);
    expect(reload.status).toBe(401);
  });

  test("with it: 200", async () => {
    const r = await get("/certs", [`authorization: Bearer ${TOKEN}`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)[0].name).toBe("web");
  });

  test("/healthz and /ready answer probes without it", async () => {
    expect((await get("/healthz")).status).toBe(200);
    expect((await get("/ready")).status).toBe(200);
  });

  test("a non-loopback admin address without a token: startup refused, naming the field", async () => {
    const [port, l] = (await freePorts(2)) as [number, number];
    const yaml = (admin: string) =>
      `settings: { admin: "${admin}" }\nlisteners: [{ address: 127.0.0.1, port: ${l}, protocol: HTTP }]\n` +
      `routes: [{ hosts: ["*"], http: [{ directResponse: { status: 200 } }] }]\n`;
    for (const [args, field] of [
      [["-c", writeConfig(yaml(`0.0.0.0:${port}`))], "settings.admin"],
      [["-c", writeConfig(yaml(`127.0.0.1:${port}`)), "--admin", `0.0.0.0:${port}`], "--admin"],
    ] as const) {
      const err = await startPorticoWith(["run", ...args]).then(
        async (q) => {
          await q.stop();
          return "";
        },
        (e: Error) => e.message,
      );
      expect(err).toContain(`portico exited with 1`);
      expect(err).toContain(
        `${field}: the admin listener on 0.0.0.0 is not a loopback address; set PORTICO_ADMIN_TOKEN`,
      );
    }
    // The refused process left nothing behind: the traffic port is free again.
    const again = await curl([`http://127.0.0.1:${l}/`, "--max-time", "2"]);
    expect(again.status).toBe(0);
  });
});
