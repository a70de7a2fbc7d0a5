// A renewed certificate is served from the next handshake without refusing a connection, on
// every adapter of the runtime: a bounded steady stream of new TLS connections (one every
// 20 ms for 3 s, each a full handshake and a request) runs across a SIGHUP that swaps a SIMPLE
// host's and a MUTUAL host's certificates, and not one fails. A reload that changes only routes
// leaves the listener's sockets alone: the same listening socket, and an open keep-alive
// connection gets the new routes. MUTUAL and SIMPLE hosts share the port and stay exact after the
// swap (the MUTUAL host still refuses a client without a certificate). bun-serve (Bun only)
// cannot serve a MUTUAL host: its listener has the two SIMPLE hosts, the stream alternates
// between the one whose certificate changes and the one whose certificate stays, and the swap
// binds a new listening socket on the port before the old one closes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { connect as h2connect } from "node:http2";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { freePorts, listeningOn, listeningSockets, sleep } from "../helpers/net.ts";
import { TestPki, type Pem } from "../helpers/pki.ts";
import { RUNTIME, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

const ADAPTERS: Record<typeof RUNTIME, string[]> = {
  bun: ["bun-sni", "node-http2", "bun-serve"],
  deno: ["node-http2-pipe", "node-http2"],
  node: ["node-http2"],
};
// Deno's node:http2 server can abort when many h2 connections open and close (denoland/deno#36788,
// docs/runtimes.md): the stream there is HTTP/1.1 only. Elsewhere every third connection is h2,
// which on bun-sni is the Bun.serve path (HTTP/1.1 clients go to node:http2, for upgrades).
const WITH_H2 = RUNTIME !== "deno";

const A = "a.rot.test";
const B = "b.rot.test";
const M = "m.rot.test";
const N = "n.rot.test";

const pki = new TestPki("Rotation Test CA");
const issue = (name: string, host: string) => pki.issue(name, host, [`DNS:${host}`], "serverAuth");
const a1 = issue("a1", A);
const a2 = issue("a2", A);
const m1 = issue("m1", M);
const m2 = issue("m2", M);
const b = issue("b", B);
const n = issue("n", N);
const client = pki.issue("client", "client", ["DNS:client.test"], "clientAuth");
const ca = readFileSync(pki.ca.crt);
const clientPem = { cert: readFileSync(client.crt), key: readFileSync(client.key) };
const fingerprint = (pem: Pem) => new X509Certificate(readFileSync(pem.crt)).fingerprint256;

/** Files the config names; a rotation writes new bytes into them. */
const live = {
  a: { crt: `${pki.dir}/a-live.crt`, key: `${pki.dir}/a-live.key` },
  m: { crt: `${pki.dir}/m-live.crt`, key: `${pki.dir}/m-live.key` },
};
const install = (to: Pem, from: Pem) => (copyFileSync(from.crt, to.crt), copyFileSync(from.key, to.key));

/**
 * `servers`: "first" as the tests start; "added": N's server added before the others (every
 * index moves); "reordered": the MUTUAL host's server where A's was, N's last.
 */
function config(port: number, body: string, adapter: string, servers = "first"): string {
  // The Bun.serve adapters serve only listeners that accept WHATWG-parsed targets
  // (docs/runtimes.md); bun-serve has no client certificates, so no MUTUAL host, and answers an
  // unknown name with a certificate, so B's server is also the "*" one.
  const settings = adapter.startsWith("bun-") ? "settings: { requestTarget: whatwg }\n" : "";
  const direct = adapter === "bun-serve";
  const entry = {
    a: `{ hosts: [${A}], tls: { credential: a } }`,
    b: `{ hosts: [${B}${direct ? ', "*"' : ""}], tls: { credential: b } }`,
    m: direct ? "" : `{ hosts: [${M}], tls: { mode: MUTUAL, credential: m } }`,
    n: `{ hosts: [${N}], tls: { credential: n } }`,
  };
  const order = { first: "abm", added: "nabm", reordered: "mabn" }[servers]!;
  const list = [...order].map((k) => entry[k as keyof typeof entry]).filter((e) => e !== "");
  return `${settings}listeners:
  - name: tls
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
${list.map((e) => `      - ${e}`).join("\n")}
credentials:
  a: { cert: ${live.a.crt}, key: ${live.a.key} }
  b: { cert: ${b.crt}, key: ${b.key} }
  m: { cert: ${live.m.crt}, key: ${live.m.key}, ca: ${pki.ca.crt} }
  n: { cert: ${n.crt}, key: ${n.key} }
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: "${body}" }
`;
}

interface Attempt {
  at: number;
  ok: boolean;
  fingerprint?: string;
  error?: string;
}

/** One new connection: a full handshake, then one request on it (HTTP/1.1 or h2). */
function attempt(port: number, host: string, h2: boolean, cert?: typeof clientPem): Promise<Attempt> {
  const at = performance.now();
  const options = { host: "127.0.0.1", port, servername: host, ca, ...cert };
  return new Promise((resolve) => {
    const timer = setTimeout(() => done({ at, ok: false, error: "timeout" }), 10_000);
    const done = (r: Attempt) => {
      clearTimeout(timer);
      resolve(r);
    };
    if (h2) {
      const session = h2connect(`https://127.0.0.1:${port}`, options);
      session.on("error", (e) => done({ at, ok: false, error: e.message }));
      const req = session.request({ ":path": "/", ":authority": host });
      req.on("response", (headers) => {
        const fp = (session.socket as TLSSocket).getPeerCertificate().fingerprint256;
        req.resume();
        req.on("end", () => {
          session.close();
          done({
            at,
            ok: headers[":status"] === 200,
            fingerprint: fp,
            error: `status ${headers[":status"]}`,
          });
        });
      });
      req.on("error", (e) => done({ at, ok: false, error: e.message }));
      req.end();
      return;
    }
    const s = tlsConnect({ ...options, ALPNProtocols: ["http/1.1"] }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.write(`GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      let data = "";
      s.on("data", (d) => (data += d));
      s.on("end", () => {
        s.destroy();
        done({ at, ok: data.startsWith("HTTP/1.1 200"), fingerprint: fp, error: data.slice(0, 40) });
      });
    });
    s.on("error", (e) => done({ at, ok: false, error: e.message }));
  });
}

/** Sends SIGHUP and waits (bounded) for the n-th reload's last line; returns that line and when. */
async function reload(p: PorticoProcess, n: number): Promise<{ log: string; at: number }> {
  p.proc.kill("SIGHUP");
  const deadline = Date.now() + 15_000;
  const lines = () => p.output().match(/reloaded: .*|reload refused.*/g) ?? [];
  while (lines().length < n && Date.now() < deadline) await sleep(10);
  expect(lines().length).toBe(n);
  return { log: lines()[n - 1]!, at: performance.now() };
}

for (const adapter of ADAPTERS[RUNTIME]) {
  // bun-serve is Bun.serve on the port itself: no MUTUAL host, and a swap binds a new socket.
  const direct = adapter === "bun-serve";
  describe(`${adapter} on ${RUNTIME}`, () => {
    let p: PorticoProcess;
    let port: number;
    let file: string;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });

    beforeAll(async () => {
      install(live.a, a1);
      install(live.m, m1);
      [port] = await freePorts(1);
      file = writeConfig(config(port!, "one", adapter));
      p = await startPorticoWith(["run", "-c", file, "--admin", "off", "--adapter", adapter]);
    });
    afterAll(async () => {
      agent.destroy();
      await p?.stop();
    });

    const get = (): Promise<{ body: string; localPort: number }> =>
      new Promise((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, servername: B, ca, path: "/", agent, headers: { host: B } },
          (res) => {
            const localPort = res.socket.localPort ?? 0;
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ body, localPort }));
          },
        );
        req.on("error", reject);
        req.end();
      });

    /**
     * New connections every 20 ms for `ms`, one request each; `change` runs (not awaited: the
     * stream goes on) after the `at`-th. Hosts in turn: SIMPLE over HTTP/1.1, the MUTUAL host
     * with a client certificate (on bun-serve, the SIMPLE host whose certificate stays), SIMPLE
     * over h2. Waits (bounded) for the reload `change` returns.
     */
    const streamAcross = async (
      ms: number,
      at: number,
      change: () => Promise<{ log: string; at: number }>,
    ) => {
      const attempts: Promise<Attempt & { host: string }>[] = [];
      let reloaded: { log: string; at: number } | undefined;
      const start = performance.now();
      for (let i = 0; performance.now() - start < ms; i++) {
        const kind = i % 3;
        const host = kind === 1 ? (direct ? B : M) : A;
        const h2 = kind === 2 && WITH_H2;
        attempts.push(
          attempt(port, host, h2, host === M ? clientPem : undefined).then((r) => ({ ...r, host })),
        );
        if (i === at) void change().then((r) => (reloaded = r));
        await sleep(20);
      }
      const results = await Promise.all(attempts);
      while (reloaded === undefined && performance.now() - start < 20_000) await sleep(20);
      return { results, reloaded };
    };

    test("one inner server for the SIMPLE hosts: listening sockets do not follow the host count", () => {
      // bun-sni: one Bun.serve on loopback for both SIMPLE hosts (MUTUAL is node:http2 in
      // process); node-http2-pipe: one loopback node:http2 server for both SIMPLE hosts and one
      // for the MUTUAL host; node-http2: inner servers take connections in process.
      const inner = { "bun-sni": 1, "node-http2-pipe": 2, "node-http2": 0, "bun-serve": 0 }[adapter]!;
      expect(listeningSockets(p.proc.pid!).size).toBe(1 + inner);
    });

    test("a routes-only reload leaves the sockets alone: same listening socket, same keep-alive connection", async () => {
      const before = await get();
      expect(before.body).toBe("one");
      const socket = listeningSockets(p.proc.pid!).get(port);
      expect(socket).toBeDefined();
      await Bun.write(file, config(port, "two", adapter));
      const { log } = await reload(p, 1);
      expect(log).toStartWith("reloaded: 1 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed;");
      const after = await get();
      expect(after.body).toBe("two");
      // Deno's node:http2 closes an HTTP/1.1 connection handed over in process after its first
      // response (docs/runtimes.md, "HTTP/1.1 keep-alive"; node-http2-pipe exists for it).
      if (!(RUNTIME === "deno" && adapter === "node-http2")) expect(after.localPort).toBe(before.localPort);
      expect(listeningSockets(p.proc.pid!).get(port)).toBe(socket!);
    });

    test("new certificates under a steady stream of new connections: none refused, the next handshakes see them", async () => {
      expect((await attempt(port, A, false)).fingerprint).toBe(fingerprint(a1));
      const socket = listeningSockets(p.proc.pid!).get(port);
      const { results, reloaded } = await streamAcross(3_000, 50, async () => {
        install(live.a, a2);
        install(live.m, m2);
        return reload(p, 2);
      });
      expect(reloaded?.log).toStartWith(
        "reloaded: 1 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed;",
      );
      const failed = results.filter((r) => !r.ok);
      expect(failed).toEqual([]);
      expect(results.length).toBeGreaterThan(60);
      const expected = (r: { host: string }, fresh: boolean) =>
        r.host === A
          ? fingerprint(fresh ? a2 : a1)
          : r.host === B
            ? fingerprint(b)
            : fingerprint(fresh ? m2 : m1);
      for (const r of results) expect([expected(r, false), expected(r, true)]).toContain(r.fingerprint!);
      const after = results.filter((r) => r.at > reloaded!.at);
      expect(after.length).toBeGreaterThan(0);
      for (const r of after) expect(r.fingerprint).toBe(expected(r, true));
      // bun-serve's new socket was bound before the old one closed, which is gone.
      const sockets = listeningOn(p.proc.pid!, port);
      expect(sockets.length).toBe(1);
      if (direct) expect(sockets[0]).not.toBe(socket!);
      else expect(sockets[0]).toBe(socket!);
    }, 30_000);

    if (direct)
      test("after the swap each name keeps its certificate: B's (the \"*\" server's) for a name no server lists", async () => {
        expect((await attempt(port, A, false)).fingerprint).toBe(fingerprint(a2));
        expect((await attempt(port, B, true)).fingerprint).toBe(fingerprint(b));
        // B's certificate does not name it: the chain is checked, not the name.
        const other = await new Promise<string>((resolve, reject) => {
          const name = "other.rot.test";
          const s = tlsConnect(
            { host: "127.0.0.1", port, servername: name, ca, checkServerIdentity: () => undefined },
            () => {
              resolve(s.getPeerCertificate().fingerprint256);
              s.destroy();
            },
          );
          s.on("error", reject);
        });
        expect(other).toBe(fingerprint(b));
      });
    else
      test("after the swap the hosts stay exact: the MUTUAL host refuses a client without a certificate", async () => {
        expect((await attempt(port, B, false)).fingerprint).toBe(fingerprint(b));
        expect((await attempt(port, M, false, clientPem)).fingerprint).toBe(fingerprint(m2));
        const refused = await attempt(port, M, false);
        expect(refused.ok).toBe(false);
      });

    test("a host added before the others under a steady stream: in place, none refused, the keep-alive connection kept", async () => {
      const before = await get();
      const socket = listeningSockets(p.proc.pid!).get(port);
      const { results, reloaded } = await streamAcross(2_000, 30, async () => {
        await Bun.write(file, config(port, "three", adapter, "added"));
        return reload(p, 3);
      });
      expect(reloaded?.log).toStartWith(
        "reloaded: 1 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed;",
      );
      expect(results.filter((r) => !r.ok)).toEqual([]);
      expect(results.length).toBeGreaterThan(40);
      const added = await attempt(port, N, WITH_H2);
      expect(added.ok).toBe(true);
      expect(added.fingerprint).toBe(fingerprint(n));
      const after = await get();
      expect(after.body).toBe("three");
      // bun-serve binds a new socket beside the old one (as for a certificate), and bun-sni's
      // inner Bun.serve is replaced when its certificates change: the connections of the old one
      // end after their next response (`connection: close`; keepalive-reload.test.ts). Deno's
      // node:http2 closes a handed-over HTTP/1.1 connection after each response.
      const keeps = !direct && adapter !== "bun-sni" && !(RUNTIME === "deno" && adapter === "node-http2");
      if (keeps) expect(after.localPort).toBe(before.localPort);
      const sockets = listeningOn(p.proc.pid!, port);
      expect(sockets.length).toBe(1);
      if (!direct) expect(sockets[0]).toBe(socket!);
    }, 30_000);

    if (!direct)
      test("servers reordered in place: an open connection keeps the server it was handshaken under", async () => {
        // A connection handshaken with A (SIMPLE, no client certificate); then the MUTUAL host's
        // server takes A's place in the list. Asking for M on that connection must not pass as
        // M's (it never showed a certificate): 421, while A is still answered on it.
        const keep = new Agent({ keepAlive: true, maxSockets: 1 });
        const ask = (host: string) =>
          new Promise<{ status: number; localPort: number }>((resolve, reject) => {
            const req = request(
              { host: "127.0.0.1", port, servername: A, ca, path: "/", agent: keep, headers: { host } },
              (res) => {
                const localPort = res.socket.localPort ?? 0;
                res.resume();
                res.on("end", () => resolve({ status: res.statusCode!, localPort }));
              },
            );
            req.on("error", reject);
            req.end();
          });
        const session = WITH_H2 ? h2connect(`https://127.0.0.1:${port}`, { servername: A, ca }) : undefined;
        const askH2 = (host: string) =>
          new Promise<number>((resolve, reject) => {
            const req = session!.request({ ":path": "/", ":authority": host });
            req.on("response", (h) => {
              req.resume();
              req.on("end", () => resolve(Number(h[":status"])));
            });
            req.on("error", reject);
            req.end();
          });
        try {
          const first = await ask(A);
          expect(first.status).toBe(200);
          if (session) expect(await askH2(A)).toBe(200);
          await Bun.write(file, config(port, "four", adapter, "reordered"));
          const { log } = await reload(p, 4);
          expect(log).toStartWith(
            "reloaded: 1 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed;",
          );
          const misdirected = await ask(M);
          expect(misdirected.status).toBe(421);
          if (session) expect(await askH2(M)).toBe(421);
          // Deno's node:http2 closes a handed-over HTTP/1.1 connection after each response;
          // bun-sni's replaced inner Bun.serve ended this one after the 421 (connection: close).
          if (!(RUNTIME === "deno" && adapter === "node-http2")) {
            const again = await ask(A);
            expect(again.status).toBe(200);
            if (adapter !== "bun-sni") expect(again.localPort).toBe(first.localPort);
          }
          if (session) expect(await askH2(A)).toBe(200);
        } finally {
          keep.destroy();
          session?.close();
        }
      });
  });
}
