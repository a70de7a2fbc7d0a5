// The admin API of reloading: POST /reload answers with the report the log prints, GET /config
// shows the effective configuration (Istio translated, defaults filled in, --service applied)
// with no byte of any private key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../helpers/net.ts";
import { TestPki } from "../helpers/pki.ts";
import { startPorticoWith, type PorticoProcess } from "../helpers/portico.ts";

const pki = new TestPki();
const inline = pki.issue("inline", "inline.test", ["DNS:inline.test"], "serverAuth");
const folder = pki.issue("folder", "folder.test", ["DNS:folder.test"], "serverAuth");
const b64 = (file: string) => readFileSync(file).toString("base64");
const keyBody = (file: string) =>
  readFileSync(file, "utf8")
    .replace(/-----[A-Z ]+-----/g, "")
    .replace(/\s+/g, "");

const istio = (gatewayHost: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 443, name: https, protocol: HTTPS }
      hosts: [inline.test]
      tls: { mode: SIMPLE, credentialName: inline-cred }
    - port: { number: 443, name: https-2, protocol: HTTPS }
      hosts: [${gatewayHost}]
      tls: { mode: SIMPLE, credentialName: folder-cred }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: vs }
spec:
  hosts: [inline.test, folder.test]
  gateways: [gw]
  http:
    - route:
        - destination: { host: webapp }
---
apiVersion: v1
kind: Secret
metadata: { name: inline-cred }
type: kubernetes.io/tls
data:
  tls.crt: ${b64(inline.crt)}
  tls.key: ${b64(inline.key)}
`;

describe("admin: GET /config and POST /reload", () => {
  let p: PorticoProcess, admin: number, https: number, file: string;
  const url = (path: string) => `http://127.0.0.1:${admin}${path}`;
  beforeAll(async () => {
    [admin, https] = (await freePorts(2)) as [number, number];
    const dir = mkdtempSync(join(tmpdir(), "portico-admin-config-"));
    const creds = join(dir, "credentials");
    mkdirSync(join(creds, "folder-cred"), { recursive: true });
    copyFileSync(folder.crt, join(creds, "folder-cred", "tls.crt"));
    copyFileSync(folder.key, join(creds, "folder-cred", "tls.key"));
    file = join(dir, "gateway.yaml");
    writeFileSync(file, istio("folder.test"));
    p = await startPorticoWith([
      "run",
      "-c",
      file,
      "--credentials",
      creds,
      "--service",
      "webapp=http://127.0.0.1:9",
      "--port",
      `443=${https}`,
      "--bind",
      "127.0.0.1",
      "--admin",
      `127.0.0.1:${admin}`,
      "--watch=false",
    ]);
  });
  afterAll(() => p?.stop());

  test("GET /config holds no private key: no PEM block, no slice of either key's base64 body", async () => {
    const res = await fetch(url("/config"));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("PRIVATE KEY");
    for (const key of [inline.key, folder.key]) {
      for (const body of [keyBody(key), b64(key)])
        for (let i = 0; i + 40 <= body.length; i += 5)
          expect(text.includes(body.slice(i, i + 40))).toBe(false);
    }
    // The folder credential's key is shown by path, the Secret's by where it came from.
    const config = JSON.parse(text);
    expect(config.credentials["folder-cred"].key).toEndWith("folder-cred/tls.key");
    expect(config.credentials["inline-cred"].inline.key).toBe("[redacted]");
  });

  test("GET /config shows the --service and --port overrides and the defaults", async () => {
    const config = await (await fetch(url("/config"))).json();
    expect(config.services.webapp.url).toBe("http://127.0.0.1:9");
    expect(config.listeners[0].port).toBe(https);
    expect(config.listeners[0].address).toBe("127.0.0.1");
    expect(config.settings.timeoutMs).toBe(15_000);
    expect(config.settings.pathNormalization).toBe("BASE");
    expect(config.listeners[0].source).toMatch(new RegExp(`^${file}:\\d+`));
  });

  test("POST /reload with a valid change: 200 and the report", async () => {
    writeFileSync(file, istio("folder2.test"));
    const res = await fetch(url("/reload"), { method: "POST" });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.ok).toBe(true);
    // Another host on the same listener: taken in place (RunningListener.updateTls).
    expect(body.report).toEqual({
      updated: [expect.any(String)],
      restarted: [],
      started: [],
      stopped: [],
      failed: [],
      // The credential's files did not change: what was parsed at startup serves again.
      credentials: { parsed: 0, reused: 2 },
      files: { read: expect.any(Number), reused: expect.any(Number) },
      ms: expect.any(Number),
    });
    const { read, reused } = body.report.files;
    expect(body.lines[0]).toBe(`POST /reload: reloading ${file}`);
    expect(body.lines.at(-1)).toBe(
      "reloaded: 1 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed; " +
        `credentials: 0 parsed, 2 unchanged; files: ${read} read, ${reused} unchanged; ${body.report.ms} ms`,
    );
    for (const line of body.lines) expect(p.output()).toContain(line);
    const config = await (await fetch(url("/config"))).json();
    expect(JSON.stringify(config.listeners)).toContain("folder2.test");
  });

  test("POST /reload with an invalid change: 422 and the error; the previous config keeps serving", async () => {
    writeFileSync(
      file,
      istio("folder3.test").replace("credentialName: folder-cred", "credentialName: nowhere"),
    );
    const res = await fetch(url("/reload"), { method: "POST" });
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.ok).toBe(false);
    expect(body.report).toBeUndefined();
    expect(body.error).toContain(`${file}:`);
    expect(body.error).toContain('credentialName "nowhere"');
    expect(body.lines.at(-1)).toBe(`reload refused, still serving the previous configuration: ${body.error}`);
    const config = await (await fetch(url("/config"))).json();
    expect(JSON.stringify(config.listeners)).toContain("folder2.test");
    expect(JSON.stringify(config)).not.toContain("folder3.test");
  });

  test("POST /reload asked for 12 times at once: the requests made while one runs share the next", async () => {
    writeFileSync(file, istio("folder2.test"));
    const reloads = () => (p.output().match(/reloaded: /g) ?? []).length;
    const before = reloads();
    const answers = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const res = await fetch(url("/reload"), { method: "POST" });
        return { status: res.status, body: (await res.json()) as { ok: boolean; lines: string[] } };
      }),
    );
    for (const a of answers) expect(a).toMatchObject({ status: 200, body: { ok: true } });
    const ran = reloads() - before;
    expect(ran).toBeGreaterThanOrEqual(1);
    expect(ran).toBeLessThan(12);
    // Those that joined say so, and got the answer of the reload they joined.
    const joined = answers.filter((a) =>
      /^POST \/reload \(\d+ requests\): reloading /.test(a.body.lines[0]!),
    );
    expect(joined.length).toBeGreaterThanOrEqual(2);
    for (const a of joined) expect(a.body.lines.at(-1)).toStartWith("reloaded: ");
  });

  test("GET /reload is 405", async () => {
    const res = await fetch(url("/reload"));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });
});
