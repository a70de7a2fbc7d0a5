// The admin listener's app: loopback by default, separate from traffic. Small on purpose; other
// modules mount their routes on it (certificates now, metrics and config later).
import { Hono } from "hono";

export type AdminApp = Hono;

export function createAdminApp(): AdminApp {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/ready", (c) => c.text("ok\n"));
  return app;
}
