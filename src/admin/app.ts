// The admin listener's app: loopback by default, separate from traffic. Small on purpose; other
// modules mount their routes on it (certificates, upstreams, metrics, config, reload).
import { Hono } from "hono";

export type AdminApp = Hono;

/** `ready`: whether /ready answers 200 (a supervisor is ready once every worker is up). */
export function createAdminApp(ready: () => boolean = () => true): AdminApp {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/ready", (c) => (ready() ? c.text("ok\n") : c.text("not ready\n", 503)));
  return app;
}
