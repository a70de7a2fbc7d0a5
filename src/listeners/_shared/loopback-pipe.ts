// Hands a connection to a TLS server listening on a loopback port, bytes untouched, and
// remembers who the client was by the pipe's local port (the inner server sees that port as
// its peer's). Used where a runtime's TLS server cannot take a socket handed over in process:
// Bun.serve (bun-sni), and node:http2 on Deno, which closes a handed-over HTTP/1.1
// connection after its first response.
import { connect, type Socket } from "node:net";
import { normalizeAddress, type ServerOf } from "./connection-info.ts";
import type { TrafficBudget } from "./traffic-budget.ts";

export interface PipedClient {
  remoteAddress: string;
  serverName: string;
  /** The ClientHello offered h2 (an inner server that speaks h2 then chose it). */
  h2: boolean;
  /** The policy the front chose (bun-sni: one Bun.serve serves several). */
  server?: ServerOf;
  /** The inner server has served a request on it (bun-sni counts its handshake then). */
  served?: true;
  /** The client's own socket, which counts its bytes (traffic-budget.ts). */
  client: Socket;
  /** Held to a traffic budget by the front (bun-sni's Bun.serve, which shows no session). */
  budget?: TrafficBudget;
}

/** The front's facts about each piped connection, keyed by the pipe's local port. */
export type PipeFacts = Map<number, PipedClient>;

export function pipeToLoopback(
  socket: Socket,
  port: number,
  serverName: string,
  facts: PipeFacts,
  h2 = false,
  server?: ServerOf,
  budget?: TrafficBudget,
): void {
  const remoteAddress = normalizeAddress(socket.remoteAddress);
  // A client may send its request and half-close at once (printf ... | nc -N, the soak script):
  // its FIN goes on to the inner server (relay), whose answer must still reach it. Without
  // this, node:net ends our side as the FIN arrives and the answer was lost (Deno,
  // node-http2-pipe: a 400 or a 200 seen as a bare close). The inner server's close ends it.
  socket.allowHalfOpen = true;
  const up = connect({ host: "127.0.0.1", port, noDelay: true });
  let localPort = 0;
  up.once("connect", () => {
    localPort = up.localPort ?? 0;
    facts.set(localPort, { remoteAddress, serverName, h2, server, client: socket, budget });
    // The ClientHello was unshifted back into `socket`, so it flows first.
    relay(socket, up);
    relay(up, socket);
  });
  const forget = () => {
    budget?.stop();
    if (localPort) facts.delete(localPort);
  };
  const teardown = () => {
    forget();
    socket.destroy();
    up.destroy();
  };
  // The inner server closed or reset (say after "Connection: close"): end the client's side
  // once what was piped is written, rather than destroying it with data still queued. (Bun.serve
  // itself resets such connections: wrk counts a read error per request against Bun.serve
  // alone, measured here; that reset is not passed on as one.)
  up.on("error", () => {});
  up.once("close", () => {
    forget();
    if (socket.destroyed) return;
    // What the client still sends (its close_notify) has nowhere to go: drop it rather than
    // write into a closed socket, which would reset the connection.
    socket.removeAllListeners("data");
    socket.removeListener("error", teardown);
    socket.on("error", () => socket.destroy());
    socket.resume();
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  });
  socket.once("close", teardown);
  socket.on("error", teardown);
}

/** How long a client gets to close its side after the inner server closed. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Copies `from` to `to` with backpressure. Stream.pipe would do, but costs more per chunk on
 * Bun (measured: a profile of the bun-sni path had node:events listener checks on top).
 */
function relay(from: Socket, to: Socket): void {
  from.on("data", (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  });
  from.once("end", () => to.end());
  from.resume();
}
