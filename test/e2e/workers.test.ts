// `portico run --workers N`: a supervisor and N worker processes sharing the listening ports
// (node:cluster on Node and Bun, SO_REUSEPORT on Deno), one admin listener, SIGHUP and SIGTERM
// reaching every worker, a dead worker restarted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { get as httpGet } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { HOST_WEBAPP, bookCredentials } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import {
  RUNTIME,
  runPortico,
  startPorticoWith,
  writeConfig,
  type PorticoProcess,
} from "../helpers/portico.ts";

const config = (http: number, https: number, body: string) => `listeners:
  - { name: web, address: 127.0.0.1, port: ${http}, protocol: HTTP }
  - name: tls
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { credential: webapp-credential }
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: { string: "${body}" } }
${bookCredentials}
`;

/**
 * One GET over a new TLS connection with openssl s_client (`args`: -sess_out or -sess_in): which
 * worker answered, and whether the handshake resumed a session ("Reused").
 */
function tlsGet(port: number, args: string[]): { worker: string; reused: boolean } {
  const r = spawnSync(
    "openssl",
    ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", HOST_WEBAPP, "-ign_eof", ...args],
    { input: `GET / HTTP/1.1\r\nhost: ${HOST_WEBAPP}\r\nconnection: close\r\n\r\n`, timeout: 10_000 },
  );
  const out = r.stdout.toString();
  return {
    worker: /x-portico-worker: (\d+)/i.exec(out)?.[1] ?? "?",
    reused: /^Reused, /m.test(out),
  };
}

interface Answer {
  worker: string | undefined;
  body: string;
}

/** One request on a new connection (no keep-alive agent): the kernel or the primary picks a worker. */
function ask(port: number, tls = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const done = (res: import("node:http").IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ worker: res.headers["x-portico-worker"] as string | undefined, body }));
    };
    const req = tls
      ? httpsRequest(
          {
            host: "127.0.0.1",
            port,
            servername: HOST_WEBAPP,
            headers: { host: HOST_WEBAPP },
            agent: false,
            rejectUnauthorized: false,
          },
          done,
        ).end()
      : httpGet({ host: "127.0.0.1", port, agent: false }, done);
    req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** Asks on new connections until every worker in `want` has answered `body` (bounded). */
async function seenFrom(port: number, want: string[], body: string, tls = false, tries = 200) {
  const seen = new Set<string>();
  for (let i = 0; i < tries && want.some((w) => !seen.has(w)); i++) {
    const a = await ask(port, tls).catch(() => undefined);
    if (a?.body === body && a.worker !== undefined) seen.add(a.worker);
  }
  return [...seen].sort();
}

/** The pids of `pid`'s children, from /proc/PID/stat's ppid field (Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return out.sort((a, b) => a - b);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(what: () => boolean, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

describe("portico run --workers 2", () => {
  let p: PorticoProcess;
  let http: number, https: number, admin: number;
  let file: string;
  let workerPids: number[] = [];
  beforeAll(async () => {
    [http, https, admin] = (await freePorts(3)) as [number, number, number];
    file = writeConfig(config(http, https, "one"));
    p = await startPorticoWith(["run", "-c", file, "--workers", "2", "--admin", `127.0.0.1:${admin}`], {
      env: { PORTICO_DEBUG_WORKER: "1" },
      timeoutMs: 30_000,
    });
    workerPids = childrenOf(p.proc.pid!);
  });
  afterAll(() => p?.stop());

  test("the summary says how many workers serve", () => {
    expect(p.output()).toMatch(/ serving .*: 2 listeners, 2 workers, 0 warnings/);
    expect(p.output()).toContain(`listener web on 127.0.0.1:${http} HTTP [`);
    expect(workerPids.length).toBe(2);
  });

  test("HTTP on new connections is served by both workers", async () => {
    expect(await seenFrom(http, ["0", "1"], "one")).toEqual(["0", "1"]);
  });

  test("HTTPS on new connections is served by both workers (each worker's loopback servers are its own)", async () => {
    expect(await seenFrom(https, ["0", "1"], "one", true, 100)).toEqual(["0", "1"]);
  });

  test(RUNTIME === "node"
    ? "a session ticket issued by one worker resumes on the other (the supervisor's shared key)"
    : `a session ticket resumes on the worker that issued it only (${RUNTIME} cannot share ticket keys)`, () => {
    const dir = mkdtempSync(join(tmpdir(), "portico-tickets-"));
    const session = join(dir, "session.pem");
    // The ticket's issuer, then resumptions until both workers have answered one (bounded).
    const first = tlsGet(https, ["-sess_out", session]);
    expect(first.reused).toBe(false);
    const seen = new Map<string, boolean[]>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const r = tlsGet(https, ["-sess_in", session]);
      seen.set(r.worker, [...(seen.get(r.worker) ?? []), r.reused]);
    }
    expect([...seen.keys()].sort()).toEqual(["0", "1"]);
    const other = first.worker === "0" ? "1" : "0";
    expect(seen.get(first.worker)!.every(Boolean)).toBe(true);
    if (RUNTIME === "node") expect(seen.get(other)!.every(Boolean)).toBe(true);
    else expect(seen.get(other)!.some(Boolean)).toBe(false);
  }, 30_000);

  test("the supervisor's admin answers /healthz, /ready and the workers' /certs", async () => {
    expect((await curl([`http://127.0.0.1:${admin}/healthz`])).body).toBe("ok\n");
    expect((await curl([`http://127.0.0.1:${admin}/ready`])).status).toBe(200);
    const certs = JSON.parse((await curl([`http://127.0.0.1:${admin}/certs`])).body) as { name: string }[];
    expect(certs.map((c) => c.name)).toContain("webapp-credential");
  });

  test("/metrics aggregates the workers, or says that no worker serves metrics", async () => {
    const r = await curl([`http://127.0.0.1:${admin}/metrics`]);
    if (r.status === 503) expect(r.body).toBe("no worker answered /metrics?format=json\n");
    else expect(r.status).toBe(200);
  });

  test("SIGHUP reaches every worker: both serve the edited routes", async () => {
    writeFileSync(file, config(http, https, "two"));
    p.proc.kill("SIGHUP");
    expect(await seenFrom(http, ["0", "1"], "two", false, 400)).toEqual(["0", "1"]);
    expect(p.output()).toContain("SIGHUP: passed on to 2 workers");
  });

  test("a worker killed outright is restarted and serves again", async () => {
    const victim = workerPids[1]!;
    process.kill(victim, "SIGKILL");
    expect(await waitFor(() => /worker \d serving again/.test(p.output()))).toBe(true);
    expect(p.output()).toMatch(
      new RegExp(`worker 1 \\(pid ${victim}\\) was killed by SIGKILL; restarting it in \\d+ ms`),
    );
    expect(await seenFrom(http, ["0", "1"], "two")).toEqual(["0", "1"]);
    workerPids = childrenOf(p.proc.pid!);
    expect(workerPids.length).toBe(2);
    expect(workerPids).not.toContain(victim);
  });

  test("SIGTERM stops every worker, then the supervisor, with 0", async () => {
    expect(workerPids.every(alive)).toBe(true);
    expect(await p.stop()).toBe(0);
    expect(await waitFor(() => !workerPids.some(alive), 5_000)).toBe(true);
    expect(p.output()).toContain("[worker 0] stopped");
    expect(p.output()).toContain("[worker 1] stopped");
  });
});

describe("a supervisor killed outright", () => {
  test("leaves no worker behind holding the ports", async () => {
    const [http, https] = (await freePorts(2)) as [number, number];
    const p = await startPorticoWith(
      ["run", "-c", writeConfig(config(http, https, "x")), "--workers", "2", "--admin", "off"],
      { timeoutMs: 30_000 },
    );
    try {
      const workers = childrenOf(p.proc.pid!);
      expect(workers.length).toBe(2);
      p.proc.kill("SIGKILL");
      expect(await waitFor(() => !workers.some(alive), 10_000)).toBe(true);
    } finally {
      await p.stop();
    }
  }, 40_000);
});

describe("--workers at startup", () => {
  test("invalid values are usage errors", async () => {
    for (const v of ["0", "two", "-1", "1.5"]) {
      const r = await runPortico(["run", "--workers", v]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--workers expects a number of processes (1 to 1024) or auto, got "${v}"`);
    }
  }, 30_000);

  test("a configuration error exits 1 before any worker starts", async () => {
    const file = writeConfig("listeners:\n  - { name: web, port: nope }\n");
    const r = await runPortico(["run", "-c", file, "--workers", "2", "--admin", "off"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("portico: invalid configuration:");
    expect(r.stderr).not.toContain("[worker");
  }, 20_000);

  test("a port the workers cannot bind fails startup, naming it", async () => {
    const [http, https] = (await freePorts(2)) as [number, number];
    // Held without SO_REUSEPORT: no worker can share it.
    const holder = createServer();
    await new Promise<void>((r) => holder.listen({ host: "127.0.0.1", port: http }, () => r()));
    try {
      const file = writeConfig(config(http, https, "x"));
      const r = await runPortico(["run", "-c", file, "--workers", "2", "--admin", "off"], 30_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`listener "web" cannot listen on 127.0.0.1:${http}: the port is in use`);
      expect(r.stderr).toMatch(
        /worker \d \(pid \d+\) exited with code 1 before it served; stopping the others/,
      );
    } finally {
      holder.close();
    }
  }, 40_000);
});
