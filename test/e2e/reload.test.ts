// SIGHUP reloads the configuration: routes, hosts and certificates change in place without
// dropping connections, a listener whose port changes moves, and a broken file changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { Agent, createServer, request, type Server } from "node:http";
import { HOST_CATALOG, HOST_WEBAPP, book } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import { startPortico, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

let p: PorticoProcess;
let file: string;
let http: number, https: number, moved: number, movedAgain: number;
/** An upstream that answers /slow after SLOW_MS: a request in flight while a listener moves. */
let slowUpstream: Server;
let slowSeen = 0;
const SLOW_MS = 1500;

function config(body: string, httpPort: number, tlsHost: "webapp" | "catalog"): string {
  const host = tlsHost === "webapp" ? HOST_WEBAPP : HOST_CATALOG;
  const [cert, key] =
    tlsHost === "webapp" ? [book.webappCert, book.webappKey] : [book.catalogCert, book.catalogKey];
  return `listeners:
  - { name: web, address: 127.0.0.1, port: ${httpPort}, protocol: HTTP }
  - name: tls
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:
      - hosts: [${host}]
        tls: { credential: c }
credentials:
  c: { cert: ${cert}, key: ${key} }
services:
  slow: http://127.0.0.1:${(slowUpstream.address() as { port: number }).port}
routes:
  - hosts: ["*"]
    http:
      - match: [{ uri: { prefix: /slow } }]
        route: [{ destination: slow }]
      - directResponse: { status: 200, body: "${body}" }
`;
}

/** Sends SIGHUP and waits (bounded) for the n-th reload to be logged. */
async function reload(n: number): Promise<string> {
  p.proc.kill("SIGHUP");
  return reloaded(n);
}

/** Waits (bounded) for the n-th reload to be logged. */
async function reloaded(n: number): Promise<string> {
  const deadline = Date.now() + 10_000;
  const done = () => (p.output().match(/reloaded: |reload refused/g) ?? []).length >= n;
  while (!done() && Date.now() < deadline) await sleep(20);
  expect(done()).toBe(true);
  return p.output();
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function get(port: number): Promise<{ body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
      const localPort = res.socket.localPort ?? 0;
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ body, localPort }));
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  [http, https, moved, movedAgain] = await freePorts(4);
  slowUpstream = createServer((_req, res) => {
    slowSeen++;
    setTimeout(() => res.end("slow"), SLOW_MS);
  });
  await new Promise<void>((r) => slowUpstream.listen(0, "127.0.0.1", r));
  file = writeConfig(config("one", http!, "webapp"));
  p = await startPortico(file);
});
afterAll(async () => {
  agent.destroy();
  await p?.stop();
  slowUpstream?.closeAllConnections();
  slowUpstream?.close();
});

describe("SIGHUP", () => {
  test("new routes apply in place: the same keep-alive connection gets the new answer", async () => {
    const before = await get(http);
    expect(before.body).toBe("one");
    writeFileSync(file, config("two", http, "webapp"));
    const log = await reload(1);
    expect(log).toContain("reloaded: 2 updated in place, 0 restarted, 0 started, 0 stopped, 0 failed");
    const after = await get(http);
    expect(after.body).toBe("two");
    expect(after.localPort).toBe(before.localPort);
  });

  test("a broken file changes nothing, and says why", async () => {
    writeFileSync(file, "listeners:\n  - port: nope\n");
    const log = await reload(2);
    expect(log).toContain("reload refused, still serving the previous configuration:");
    expect(log).toContain("listeners[0].port");
    expect((await get(http)).body).toBe("two");
  });

  test("a listener whose port changes moves; one whose host and certificate change takes them in place", async () => {
    writeFileSync(file, config("three", moved, "catalog"));
    const log = await reload(3);
    expect(log).toContain("reloaded: 1 updated in place, 1 restarted, 0 started, 0 stopped, 0 failed");
    expect((await curl([`http://127.0.0.1:${moved}/`])).body).toBe("three");
    expect((await curl([`http://127.0.0.1:${http}/`])).exitCode).toBe(7);
    const tls = await curl([
      "-v",
      `https://${HOST_CATALOG}:${https}/`,
      "--cacert",
      book.catalogCaChain,
      "--resolve",
      `${HOST_CATALOG}:${https}:127.0.0.1`,
    ]);
    expect(tls.status).toBe(200);
    expect(tls.stderr).toContain("CN=catalog.istioinaction.io");
    expect(
      (
        await curl([
          "-k",
          `https://${HOST_WEBAPP}:${https}/`,
          "--resolve",
          `${HOST_WEBAPP}:${https}:127.0.0.1`,
        ])
      ).exitCode,
    ).toBe(35);
  });

  test("a listener that moves binds its new port before its old one closes", async () => {
    // A request in flight on the old port keeps the old listener draining (up to 2 s); the new
    // port must answer before that request ends. Closing first, then binding, fails this.
    let seq = 0;
    let slowEnded = 0;
    let newAnswered = 0;
    const seen = slowSeen;
    const slow = fetch(`http://127.0.0.1:${moved}/slow`)
      .then((r) => r.text())
      .catch(() => "")
      .finally(() => (slowEnded = ++seq));
    const deadline = Date.now() + 10_000;
    while (slowSeen === seen && Date.now() < deadline) await sleep(5);
    writeFileSync(file, config("four", movedAgain, "catalog"));
    p.proc.kill("SIGHUP");
    while (newAnswered === 0 && Date.now() < deadline) {
      const body = await fetch(`http://127.0.0.1:${movedAgain}/`)
        .then((r) => r.text())
        .catch(() => "");
      if (body === "four") newAnswered = ++seq;
      else await sleep(5);
    }
    expect(await slow).toBe("slow");
    expect(newAnswered).toBe(1);
    expect(slowEnded).toBe(2);
    const log = await reloaded(4);
    expect(log).toContain("reloaded: 1 updated in place, 1 restarted, 0 started, 0 stopped, 0 failed");
    expect((await curl([`http://127.0.0.1:${moved}/`])).exitCode).toBe(7);
  });
});
