// Keep-alive clients across a reload that replaces the TLS server they are on: a listener with
// one SIMPLE host has a server without an SNI callback, so adding a second host replaces it
// (listeners/_shared/http2-servers.ts). On Deno (node-http2-pipe) the replaced server listens on
// loopback and was closed RETIRE_AFTER_MS later, which closed its idle HTTP/1.1 connections
// under clients about to send on them: ECONNRESET, seen in `npm run soak` with reloads. Now its
// connections end after their next response (`connection: close`) and it closes once they have.
// Four clients send back to back for longer than that delay; not one request may fail.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { RETIRE_AFTER_MS } from "../../src/listeners/_shared/connections.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import { TestPki } from "../helpers/pki.ts";
import { RUNTIME, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

const A = "a.keep.test";
const B = "b.keep.test";
const pki = new TestPki("Keep-alive Test CA");
const a = pki.issue("a", A, [`DNS:${A}`], "serverAuth");
const b = pki.issue("b", B, [`DNS:${B}`], "serverAuth");
const ca = readFileSync(pki.ca.crt);

function config(port: number, withB: boolean): string {
  return `listeners:
  - name: tls
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - { hosts: [${A}], tls: { credential: a } }
${withB ? `      - { hosts: [${B}], tls: { credential: b } }\n` : ""}credentials:
  a: { cert: ${a.crt}, key: ${a.key} }
  b: { cert: ${b.crt}, key: ${b.key} }
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: "ok" }
`;
}

function get(port: number, host: string, agent: Agent | false): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, servername: host, ca, path: "/", agent, headers: { host }, timeout: 5_000 },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(`${res.statusCode} ${body}`));
        res.on("error", (e) => resolve(`response ${e.message}`));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

describe(`keep-alive clients across a reload that replaces their server, on ${RUNTIME}`, () => {
  let p: PorticoProcess;
  let port: number;
  let file: string;
  beforeAll(async () => {
    [port] = await freePorts(1);
    file = writeConfig(config(port!, false));
    p = await startPorticoWith(["run", "-c", file, "--admin", "off", "--watch=false"]);
  });
  afterAll(() => p?.stop());

  test("four clients sending back to back: every request answered, before and after the old server closes", async () => {
    const agents = Array.from({ length: 4 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const until = performance.now() + RETIRE_AFTER_MS + 3_000;
    const failures: string[] = [];
    let answered = 0;
    const clients = agents.map(async (agent) => {
      while (performance.now() < until) {
        const r = await get(port, A, agent);
        if (r === "200 ok") answered++;
        else failures.push(r);
      }
      agent.destroy();
    });
    await sleep(500);
    await Bun.write(file, config(port, true));
    p.proc.kill("SIGHUP");
    while (!/reloaded: |reload refused/.test(p.output()) && performance.now() < until) await sleep(20);
    expect(p.output()).toMatch(/reloaded: 1 updated in place, 0 restarted/);
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(100);
    // The new server serves both hosts.
    expect(await get(port, B, false)).toBe("200 ok");
  }, 30_000);
});
