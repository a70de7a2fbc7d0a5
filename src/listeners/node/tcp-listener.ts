// The TCP listener adapter: plain TCP forwarding (Istio `protocol: TCP`) and TLS passthrough
// (`protocol: TLS`, mode PASSTHROUGH), where the ClientHello's SNI picks the backend and the
// bytes, ClientHello included, reach it untouched. node:net only, so it runs unchanged on Bun,
// Deno and Node (RUNTIMES.md; half-close checked on all three).
//
// Envoy's tcp_proxy semantics: connect timeout 10 s (Istio's default connectTimeout), idle
// timeout 1 h, half-close passed on (a client's FIN becomes a FIN to the backend and the other
// way round), an error or reset on one side closes both.

import { connect, createServer, type Socket } from "node:net";
import type { StartListener, StreamBackend, StreamListenerSpec } from "../types.ts";
import { listen } from "./listener.ts";
import { dispatchBySni } from "./sni-dispatch.ts";

const CONNECT_TIMEOUT_MS = 10_000;
/** No byte either way for this long closes the connection (Envoy's default idle_timeout). */
const IDLE_TIMEOUT_MS = 3_600_000;
/** On shutdown, open connections get this long to finish before they are cut. */
const DRAIN_MS = 2_000;

export const startTcpListener: StartListener = async (spec) => {
  const stream = spec.stream!;
  const connections = new ConnectionSet();
  const logError = (err: Error) => spec.onError?.(err);
  const server = createServer({ allowHalfOpen: true, noDelay: true });
  server.on("connection", (client: Socket) => {
    connections.add(client);
    accept(client, stream, connections, spec.name, logError);
  });
  const port = await listen(server, spec);
  return {
    name: spec.name,
    port,
    close: async () => {
      server.close();
      await connections.drain(DRAIN_MS);
    },
  };
};

function accept(client: Socket, stream: StreamListenerSpec, connections: ConnectionSet, listener: string, logError: (err: Error) => void): void {
  if (!stream.sni) {
    // Nothing is read before the backend answers; the kernel buffers what the client sends.
    client.pause();
    const backend = stream.backend(undefined);
    if (backend === undefined) return void client.destroy();
    return forward(client, backend, connections, listener, logError);
  }
  // dispatchBySni destroys connections whose ClientHello is invalid, too large, stalled for 10 s,
  // or names no backend; otherwise the ClientHello is back in the (paused) socket.
  dispatchBySni(client, (serverName) => {
    const backend = stream.backend(serverName);
    return backend === undefined ? undefined : { emit: (socket) => forward(socket, backend, connections, listener, logError) };
  });
}

function forward(client: Socket, backend: StreamBackend, connections: ConnectionSet, listener: string, logError: (err: Error) => void): void {
  const upstream = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true });
  connections.add(upstream);
  let connected = false;
  const closeBoth = () => {
    clearTimeout(connectTimer);
    client.destroy();
    upstream.destroy();
  };
  const connectTimer = setTimeout(() => {
    logError(new Error(`listener "${listener}": no connection to ${backend.host}:${backend.port} within ${CONNECT_TIMEOUT_MS / 1000} s`));
    closeBoth();
  }, CONNECT_TIMEOUT_MS);
  upstream.once("connect", () => {
    clearTimeout(connectTimer);
    connected = true;
    // Every byte either way passes through `client`, so its inactivity timer is the idle timer.
    client.setTimeout(IDLE_TIMEOUT_MS, closeBoth);
    // pipe() passes backpressure and, with allowHalfOpen, turns each side's FIN into end().
    client.pipe(upstream);
    upstream.pipe(client);
  });
  upstream.on("error", (err: NodeJS.ErrnoException) => {
    if (!connected) logError(new Error(`listener "${listener}": cannot connect to ${backend.host}:${backend.port}: ${err.code ?? err.message}`));
    closeBoth();
  });
  client.on("error", closeBoth);
  // A side that closes after an error takes the other with it; an orderly close (both FINs)
  // leaves the other side to flush what it still holds and close by itself.
  upstream.once("close", (hadError: boolean) => (hadError || !connected ? closeBoth() : undefined));
  client.once("close", (hadError: boolean) => (hadError ? closeBoth() : undefined));
}

/** Every socket of the listener (both sides of each connection), so shutdown can close them. */
class ConnectionSet {
  private readonly sockets = new Set<Socket>();
  private emptied: (() => void) | undefined;

  add(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) this.emptied?.();
    });
  }

  async drain(ms: number): Promise<void> {
    if (this.sockets.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.emptied = () => (clearTimeout(timer), resolve());
      });
    }
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}
