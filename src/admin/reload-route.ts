// POST /reload: reloads the configuration as SIGHUP does (src/cli/reload.ts) and answers with the
// report the log prints. 200: the new configuration was applied (a listener that failed to start
// is listed under report.failed); 422: the configuration was refused and the previous one keeps
// serving. A reload requested while one runs waits for it, then runs (no 409).
import type { AdminApp } from "./app.ts";
import { redactText } from "./redact.ts";

/** What a reload answers (src/cli/reload.ts ReloadResult, seen from here). */
export interface ReloadOutcome {
  ok: boolean;
  report?: unknown;
  error?: string;
  lines: string[];
}

export function mountReload(app: AdminApp, reload: () => Promise<ReloadOutcome>): void {
  app.post("/reload", async (c) => {
    const r = await reload();
    // Never a key byte in an answer: issues quote values at times.
    const lines = r.lines.map(redactText);
    if (r.ok) return c.json({ ok: true, report: r.report, lines }, 200);
    return c.json({ ok: false, error: redactText(r.error ?? "refused"), lines }, 422);
  });
  app.all("/reload", (c) => c.json({ error: "use POST /reload" }, 405, { allow: "POST" }));
}
