// Hands a connection to a TLS server listening on a loopback port, bytes untouched, and
// remembers who the client was by the pipe's local port (the inner server sees that port as
// its peer's). Used where a runtime's TLS server cannot take a socket handed over in process:
// Bun.serve (bun-sni), and node:http2 on Deno, which closes a handed-over HTTP/1.1
// connection after its first response.
import { connect, type Socket } from "node:net";
import { normalizeAddress } from "./connection-info.ts";

export interface PipedClient {
  remoteAddress: string;
  serverName: string;
}

/** The front's facts about each piped connection, keyed by the pipe's local port. */
export type PipeFacts = Map<number, PipedClient>;

export function pipeToLoopback(socket: Socket, port: number, serverName: string, facts: PipeFacts): void {
  const remoteAddress = normalizeAddress(socket.remoteAddress);
  const up = connect({ host: "127.0.0.1", port, noDelay: true });
  let localPort = 0;
  up.once("connect", () => {
    localPort = up.localPort ?? 0;
    facts.set(localPort, { remoteAddress, serverName });
    // The ClientHello was unshifted back into `socket`, so it flows first.
    socket.pipe(up);
    up.pipe(socket);
  });
  const teardown = () => {
    if (localPort) facts.delete(localPort);
    socket.destroy();
    up.destroy();
  };
  up.once("close", teardown);
  socket.once("close", teardown);
  up.on("error", teardown);
  socket.on("error", teardown);
}
