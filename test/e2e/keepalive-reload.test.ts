// Keep-alive clients across a reload that replaces the TLS server they are on, on every adapter
// of the runtime. A listener with one SIMPLE host has a node:http2 server without an SNI
// callback, so adding a second host replaces it (listeners/_shared/http2-servers.ts); bun-sni
// replaces its inner Bun.serve whenever its certificates change, and bun-serve its own. A
// replaced server that listens (node-http2-pipe on loopback, bun-sni's inner Bun.serve, bun-serve
// beside the new one) was stopped a while later (RETIRE_AFTER_MS; bun-serve: 1 s), which closed
// its idle HTTP/1.1 connections under clients about to send on them: ECONNRESET, seen in
// `npm run soak` with reloads on Deno, and here four of four clients on Deno, bun-sni and
// bun-serve. Now
// its connections end after their next response (`connection: close`) first. Four clients send
// back to back until after that stop; not one request may fail. In-process servers (node-http2)
// are never stopped: there the stream is short. And on every adapter with client certificates: a
// reload that replaces a MUTUAL host's client CA ends the open connection after one more answer,
// and a full handshake with the old CA's client certificate is refused (a resumed one too,
// except on Deno).
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
// A MUTUAL host whose client CA a reload replaces: clients of the old CA are refused from then on.
const M = "m.keep.test";
const m = pki.issue("m", M, [`DNS:${M}`], "serverAuth");
const oldClients = new TestPki("Old Client CA");
const newClients = new TestPki("New Client CA");
const client = oldClients.issue("client", "client", ["DNS:client.keep.test"], "clientAuth");

const ADAPTERS: Record<typeof RUNTIME, string[]> = {
  bun: ["node-http2", "bun-sni", "bun-serve"],
  // Deno's node:http2 closes a handed-over HTTP/1.1 connection after each response, reload or
  // not (docs/runtimes.md, "HTTP/1.1 keep-alive"): node-http2-pipe, its default, exists for it.
  deno: ["node-http2-pipe"],
  node: ["node-http2"],
};
/** How long after the swap a replaced server that listens is stopped (0: never). */
const STOPS_AFTER: Record<string, number> = {
  "node-http2-pipe": RETIRE_AFTER_MS,
  "bun-sni": RETIRE_AFTER_MS,
  "bun-serve": 1_000,
  "node-http2": 0,
};

function config(port: number, adapter: string, withB: boolean): string {
  // The Bun.serve adapters serve only WHATWG-parsed targets; bun-serve needs a "*" server.
  const settings = adapter.startsWith("bun-") ? "settings: { requestTarget: whatwg }\n" : "";
  const any = adapter === "bun-serve" ? ', "*"' : "";
  return `${settings}listeners:
  - name: tls
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - { hosts: [${A}${any}], tls: { credential: a } }
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

/** Portico on `file` with `adapter`, nothing else listening, no watcher (SIGHUP reloads). */
const start = (file: string, adapter: string) =>
  startPorticoWith(["run", "-c", file, "--admin", "off", "--watch=false", "--adapter", adapter]);

/** SIGHUP, and the reload applied in place (bounded wait). */
async function reloadInPlace(p: PorticoProcess): Promise<void> {
  p.proc.kill("SIGHUP");
  const deadline = performance.now() + 15_000;
  while (!/reloaded: |reload refused/.test(p.output()) && performance.now() < deadline) await sleep(20);
  expect(p.output()).toMatch(/reloaded: 1 updated in place, 0 restarted/);
}

for (const adapter of ADAPTERS[RUNTIME])
  describe(`keep-alive clients across a reload that replaces their server: ${adapter} on ${RUNTIME}`, () => {
    let p: PorticoProcess;
    let port: number;
    let file: string;
    beforeAll(async () => {
      [port] = await freePorts(1);
      file = writeConfig(config(port!, adapter, false));
      p = await start(file, adapter);
    });
    afterAll(() => p?.stop());

    test("four clients sending back to back: every request answered, before and after the old server stops", async () => {
      const agents = Array.from({ length: 4 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
      const until = performance.now() + 500 + STOPS_AFTER[adapter]! + 3_000;
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
      await Bun.write(file, config(port, adapter, true));
      await reloadInPlace(p);
      await Promise.all(clients);
      expect(failures).toEqual([]);
      expect(answered).toBeGreaterThan(100);
      // The new server serves both hosts.
      expect(await get(port, B, false)).toBe("200 ok");
    }, 30_000);
  });

// A connection keeps the policy it was handshaken under; when a reload replaces its server (here:
// the MUTUAL host's client CA), the connection ends after its next response, so the client
// handshakes again under the new policy instead of keeping the old one for as long as it keeps
// the connection. bun-serve has no client certificates.
for (const adapter of ADAPTERS[RUNTIME].filter((a) => a !== "bun-serve"))
  describe(`a connection whose server a reload replaced: ${adapter} on ${RUNTIME}`, () => {
    let p: PorticoProcess;
    let port: number;
    let file: string;
    const mutual = (
      clientCa: string,
    ) => `${adapter.startsWith("bun-") ? "settings: { requestTarget: whatwg }\n" : ""}listeners:
  - name: tls
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - { hosts: [${M}], tls: { mode: MUTUAL, credential: m } }
credentials:
  m: { cert: ${m.crt}, key: ${m.key}, ca: ${clientCa} }
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: "ok" }
`;
    beforeAll(async () => {
      [port] = await freePorts(1);
      file = writeConfig(mutual(oldClients.ca.crt));
      p = await start(file, adapter);
    });
    afterAll(() => p?.stop());

    test("a client CA replaced: the open connection answers once more and ends; a new one is refused", async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      // A second client that offers no session to resume: a full handshake.
      const fresh = new Agent({ keepAlive: false, maxCachedSessions: 0 });
      const ask = (via = agent) =>
        new Promise<{ status: number; connection?: string; localPort: number } | string>((resolve) => {
          const req = request(
            {
              host: "127.0.0.1",
              port,
              servername: M,
              ca,
              cert: readFileSync(client.crt),
              key: readFileSync(client.key),
              path: "/",
              agent: via,
              headers: { host: M },
              timeout: 5_000,
            },
            (res) => {
              const localPort = res.socket.localPort ?? 0;
              res.resume();
              res.on("end", () =>
                resolve({ status: res.statusCode!, connection: res.headers.connection, localPort }),
              );
            },
          );
          req.on("timeout", () => req.destroy(new Error("timeout")));
          req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
          req.end();
        });
      try {
        const first = await ask();
        expect(first).toMatchObject({ status: 200 });
        await Bun.write(file, mutual(newClients.ca.crt));
        await reloadInPlace(p);
        // The same connection, handshaken under the old CA: one more answer, which ends it.
        const last = await ask();
        expect(last).toMatchObject({ status: 200, connection: "close" });
        expect((last as { localPort: number }).localPort).toBe((first as { localPort: number }).localPort);
        // A full handshake with the old CA's client certificate is refused.
        expect(typeof (await ask(fresh))).toBe("string");
        // So is resuming the old connection's session, except on Deno, whose TLS (rustls) keeps
        // one session store for the whole process and resumes a session made under the old CA
        // without verifying the certificate again (docs/runtimes.md, "Client certificates").
        if (RUNTIME !== "deno") expect(typeof (await ask())).toBe("string");
      } finally {
        agent.destroy();
        fresh.destroy();
      }
    }, 30_000);
  });
