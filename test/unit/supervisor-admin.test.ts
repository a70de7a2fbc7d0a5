// The supervisor's admin routes against real worker admin listeners on loopback: /metrics sums
// what the workers serve (skipping a worker without it), POST /reload reaches every worker and
// combines the answers, /certs is the first worker's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { Counter, Registry } from "prom-client";
import { createAdminApp } from "../../src/admin/app.ts";
import { mountSupervisor, type WorkerAdmin } from "../../src/admin/supervisor-routes.ts";

/** A worker's admin: `requests` counted, and `reload` as its POST /reload answer (undefined: 404s). */
async function fakeWorker(requests: number | undefined, reload: object | undefined): Promise<Server> {
  const registry = new Registry();
  new Counter({ name: "t_requests_total", help: "r", registers: [registry] }).inc(requests ?? 0);
  const json = JSON.stringify(await registry.getMetricsAsJSON());
  const server = createServer((req, res) => {
    if (req.url === "/metrics?format=json" && requests !== undefined) return void res.end(json);
    if (req.method === "POST" && req.url === "/reload" && reload)
      return void res.writeHead("ok" in reload && reload.ok ? 200 : 400).end(JSON.stringify(reload));
    if (req.url === "/certs") return void res.end(`[{"name":"from-${requests}"}]`);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return server;
}

const portOf = (s: Server) => (s.address() as { port: number }).port;

describe("the supervisor's admin", () => {
  let a: Server, b: Server, c: Server;
  let workers: WorkerAdmin[];
  const app = createAdminApp();
  mountSupervisor(app, () => workers);
  const call = (path: string, method = "GET") => app.fetch(new Request(`http://admin${path}`, { method }));
  beforeAll(async () => {
    a = await fakeWorker(3, { ok: true, report: { updated: 1 }, lines: ["reloaded"] });
    b = await fakeWorker(4, { ok: false, error: "bad yaml", lines: ["refused"] });
    c = await fakeWorker(undefined, undefined);
  });
  afterAll(() => {
    for (const s of [a, b, c]) s.close();
  });

  test("/metrics sums the workers that serve it", async () => {
    workers = [a, b, c].map((s, worker) => ({ worker, port: portOf(s) }));
    const res = await call("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    expect(await res.text()).toContain("t_requests_total 7\n");
  });

  test("/metrics is 503 when no worker serves it", async () => {
    workers = [{ worker: 0, port: portOf(c) }];
    const res = await call("/metrics");
    expect(res.status).toBe(503);
  });

  test("POST /reload reaches every worker and is ok only when all are", async () => {
    workers = [a, b].map((s, worker) => ({ worker, port: portOf(s) }));
    const res = await call("/reload", "POST");
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      ok: false,
      workers: [
        { worker: 0, ok: true, report: { updated: 1 }, lines: ["reloaded"] },
        { worker: 1, ok: false, error: "bad yaml", lines: ["refused"] },
      ],
    });
    workers = [{ worker: 0, port: portOf(a) }];
    expect((await call("/reload", "POST")).status).toBe(200);
  });

  test("/certs is the first worker's", async () => {
    workers = [b, a].map((s, worker) => ({ worker, port: portOf(s) }));
    expect(await (await call("/certs")).json()).toEqual([{ name: "from-4" }]);
  });
});
