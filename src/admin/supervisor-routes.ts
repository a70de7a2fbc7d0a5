// The supervisor's admin listener under `portico run --workers N`: one address for the whole
// gateway. /metrics is every worker's metrics summed; POST /reload reaches every worker; what
// describes the configuration (/certs, /upstreams, /config) is the same in every worker, so
// the first worker's answer is served.
import type { AdminApp } from "./app.ts";
import { aggregateMetrics, type WorkerMetrics } from "./metrics-routes.ts";

/** A running worker's own admin listener, on 127.0.0.1. */
export interface WorkerAdmin {
  worker: number;
  port: number;
}

const TIMEOUT_MS = 5_000;

export function mountSupervisor(app: AdminApp, workers: () => WorkerAdmin[]): void {
  const ask = (w: WorkerAdmin, path: string, method = "GET") =>
    fetch(`http://127.0.0.1:${w.port}${path}`, { method, signal: AbortSignal.timeout(TIMEOUT_MS) });

  app.get("/metrics", async (c) => {
    const answers = await Promise.all(
      workers().map(async (w) => {
        try {
          const res = await ask(w, "/metrics?format=json");
          if (!res.ok) return void (await res.body?.cancel());
          return (await res.json()) as WorkerMetrics;
        } catch {
          return undefined; // a worker restarting right now is left out of this scrape
        }
      }),
    );
    const jsons = answers.filter((a): a is WorkerMetrics => Array.isArray(a));
    if (jsons.length === 0) return c.text("no worker answered /metrics?format=json\n", 503);
    return c.text(await aggregateMetrics(jsons), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });

  app.post("/reload", async (c) => {
    const results = await Promise.all(
      workers().map(async (w) => {
        try {
          const res = await ask(w, "/reload", "POST");
          const text = await res.text();
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = { ok: false, error: `HTTP ${res.status}: ${text.trim()}` };
          }
          return { worker: w.worker, ...body, ok: res.ok && body.ok !== false };
        } catch (err) {
          return { worker: w.worker, ok: false, error: (err as Error).message };
        }
      }),
    );
    const ok = results.length > 0 && results.every((r) => r.ok);
    return c.json({ ok, workers: results }, ok ? 200 : 500);
  });

  // The configuration's views: any worker's is every worker's.
  for (const path of ["/certs", "/certs/:name", "/upstreams", "/config"]) {
    app.get(path, async (c) => {
      const first = workers()[0];
      if (!first) return c.text("no worker is running\n", 503);
      try {
        const res = await ask(first, new URL(c.req.url).pathname);
        return new Response(res.body, { status: res.status, headers: res.headers });
      } catch (err) {
        return c.text(`worker ${first.worker}: ${(err as Error).message}\n`, 502);
      }
    });
  }
}
