// The private channel between the supervisor of `portico run --workers N` and its workers: the
// supervisor listens on an ephemeral loopback port and each worker, once its listeners and its
// own admin listener are up, POSTs what it bound there. Workers are started two ways (node:cluster
// on Node and Bun, child_process.spawn on Deno: worker-process.ts), and a loopback HTTP endpoint
// (node:http and fetch) behaves the same under both, with no runtime's IPC to rely on. Signals
// do the rest (SIGHUP, SIGTERM, and ROTATE_SIGNAL after which a worker GETs the shared
// session-ticket key: ticket-key-sharing.ts), and the supervisor reads each worker's admin
// listener over HTTP. A random token, passed in the environment, keeps other local processes
// from posting or reading.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import { PorticoError } from "../util/errors.ts";

export const CONTROL_URL_ENV = "PORTICO_CONTROL";
export const CONTROL_TOKEN_ENV = "PORTICO_CONTROL_TOKEN";
export const WORKER_ENV = "PORTICO_WORKER";
const TICKET_KEY_PATH = "/ticket-key";

/** What a worker bound, as its listeners' summary and the supervisor's admin need it. */
export interface WorkerReport {
  worker: number;
  pid: number;
  /** The worker's own admin listener, on 127.0.0.1. */
  adminPort: number;
  listeners: { name: string; port: number; adapter: string; unenforced?: string[] }[];
}

export interface ControlServer {
  /** Environment a worker needs to reach this server. */
  env: Record<string, string>;
  close(): void;
}

/** `ticketKey`: the shared session-ticket key (hex) workers fetch from TICKET_KEY_PATH. */
export async function startControl(
  onReport: (r: WorkerReport) => void,
  ticketKey?: () => string,
): Promise<ControlServer> {
  const token = randomBytes(16).toString("hex");
  const server = createServer(async (req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(403).end();
      return;
    }
    if (req.method === "GET" && req.url === TICKET_KEY_PATH && ticketKey) {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" }).end(ticketKey());
      return;
    }
    if (req.method !== "POST" || req.url !== "/ready") {
      res.writeHead(403).end();
      return;
    }
    try {
      onReport(JSON.parse(await body(req)) as WorkerReport);
      res.writeHead(204).end();
    } catch {
      res.writeHead(400).end();
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    });
  });
  return {
    env: { [CONTROL_URL_ENV]: `http://127.0.0.1:${port}/ready`, [CONTROL_TOKEN_ENV]: token },
    close: () => server.close(),
  };
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (s += d));
    req.on("end", () => resolve(s));
    req.on("error", reject);
  });
}

/** This process's worker index, or undefined outside a supervisor. */
export function workerIndex(): number | undefined {
  const v = process.env[WORKER_ENV];
  return v === undefined ? undefined : Number(v);
}

/** Tells the supervisor this worker serves. */
export async function reportReady(report: WorkerReport): Promise<void> {
  const url = process.env[CONTROL_URL_ENV];
  const token = process.env[CONTROL_TOKEN_ENV];
  if (!url || !token) return;
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(report),
  });
  await res.body?.cancel();
  if (res.status !== 204) throw new Error(`the supervisor refused worker ${report.worker}'s report`);
}

/** The supervisor's current session-ticket key (hex), over the control channel. */
export async function fetchTicketKey(): Promise<string> {
  const url = process.env[CONTROL_URL_ENV];
  const token = process.env[CONTROL_TOKEN_ENV];
  if (!url || !token) throw new PorticoError("no control channel to the supervisor");
  const res = await fetch(new URL(TICKET_KEY_PATH, url), { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (res.status !== 200) throw new PorticoError(`the supervisor answered ${res.status} for the ticket key`);
  return text;
}
