// Starts the admin app on its own plain-HTTP listener, through the same adapter selection as
// traffic listeners.
import type { HttpListenerSpec, RunningListener, StartListener } from "../listeners/_shared/types.ts";
import type { Plan } from "../provision/plan.ts";
import { createAdminApp } from "./app.ts";
import { mountCerts } from "./certs-routes.ts";

export async function startAdmin(
  plan: () => Plan,
  where: { address: string; port: number },
  adapterFor: (spec: HttpListenerSpec) => { start: StartListener },
): Promise<RunningListener> {
  const app = createAdminApp();
  mountCerts(app, plan);
  const spec: HttpListenerSpec = { kind: "http", name: "admin", address: where.address, port: where.port, handler: (req) => app.fetch(req) };
  return adapterFor(spec).start(spec);
}

/** "127.0.0.1:15000", ":15000" (loopback), "[::1]:15000" or "off". */
export function parseAdminAddress(value: string): { address: string; port: number } | "off" | undefined {
  if (value === "off") return "off";
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]*)):(\d{1,5})$/.exec(value);
  if (!m || Number(m[3]) > 65535) return undefined;
  return { address: m[1] ?? (m[2] || "127.0.0.1"), port: Number(m[3]) };
}
