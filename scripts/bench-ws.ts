// The WebSocket figure of `npm run bench`: sequential round trips of a small message (the `ws`
// package as client and as echo upstream, both in the bench process), through Portico and direct.
// One message in flight at a time, so this measures the added latency of the tunnel, not
// throughput.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";

/** Round trips per measurement; bounded by `seconds` too. */
const ROUNDS = 5_000;

export async function startWsEcho(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => ws.on("message", (data, binary) => ws.send(data, { binary })));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Round trips per second of a 32-byte text message on one connection to `url` (ws:// or wss://). */
export async function wsRoundTrips(url: string, seconds: number): Promise<number> {
  const ws = new WebSocket(url, {
    rejectUnauthorized: false,
    // The bench's TLS name resolves to loopback (node asks with `all: true`).
    lookup: ((_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
      o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)) as never,
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_q, res) => reject(new Error(`WebSocket upgrade: ${res.statusCode}`)));
  });
  const message = "x".repeat(32);
  const once = () =>
    new Promise<void>((resolve) => {
      ws.once("message", () => resolve());
      ws.send(message);
    });
  for (let i = 0; i < 100; i++) await once(); // warm-up
  const started = performance.now();
  const until = started + seconds * 1000;
  let n = 0;
  while (n < ROUNDS && performance.now() < until) {
    await once();
    n++;
  }
  const rate = n / ((performance.now() - started) / 1000);
  ws.close();
  return rate;
}
