// Reads the ClientHello off a raw TCP socket and hands the socket, bytes intact, to what its SNI
// selects: the TLS server of a policy (sniFrontServer; node-http2, node-http2-pipe, bun-sni) or
// a passthrough backend (node-tcp). One TLS server per policy is what lets a MUTUAL host and a
// SIMPLE host share a port exactly: only the MUTUAL server ever asks for a certificate.
// `pause()` before `unshift()` matters: without it Bun and Deno lose the ClientHello
// (docs/runtimes.md, "The SNI front").

import { createServer, type Server, type Socket } from "node:net";
import { MAX_CLIENT_HELLO, parseClientHello } from "../../tls/client-hello.ts";
import type { TlsListenerSpec } from "./types.ts";

/** A client that has not finished its ClientHello by then is dropped. */
export const CLIENT_HELLO_TIMEOUT_MS = 10_000;

/** Where a connection goes once its SNI is known; the ClientHello is back in the socket, unread. */
export interface SniTarget {
  /** `alpn`: the protocols the ClientHello offers (bun-sni chooses its inner server by them). */
  emit(socket: Socket, serverName: string | undefined, alpn: string[]): void;
}

export type SniDecision = (serverName: string | undefined) => SniTarget | undefined;

export function dispatchBySni(socket: Socket, decide: SniDecision): void {
  let buffered: Buffer | undefined;
  const onError = () => socket.destroy();
  const onTimeout = () => socket.destroy();
  const onData = (chunk: Buffer) => {
    buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
    const hello = parseClientHello(buffered);
    if (hello.kind === "incomplete") {
      if (buffered.length > MAX_CLIENT_HELLO) socket.destroy();
      return;
    }
    socket.removeListener("data", onData);
    socket.removeListener("error", onError);
    socket.removeListener("timeout", onTimeout);
    socket.setTimeout(0);
    if (hello.kind === "invalid") {
      socket.destroy();
      return;
    }
    const target = decide(hello.serverName);
    if (target === undefined) {
      // Istio/Envoy end the handshake for a name no server lists; so do we (curl sees exit 35).
      socket.destroy();
      return;
    }
    socket.pause();
    socket.unshift(buffered);
    target.emit(socket, hello.serverName, hello.alpn);
  };
  socket.setNoDelay(true);
  socket.setTimeout(CLIENT_HELLO_TIMEOUT_MS);
  socket.on("timeout", onTimeout);
  socket.on("error", onError);
  socket.on("data", onData);
}

/** A plain TCP server that reads each ClientHello and passes the connection to its policy's target. */
export function sniFrontServer(tls: TlsListenerSpec, targets: SniTarget[]): Server {
  const front = createServer({ noDelay: true });
  front.on("connection", (socket) => {
    dispatchBySni(socket, (name) => {
      const i = tls.selectPolicy(name);
      return i === undefined ? undefined : targets[i];
    });
  });
  return front;
}
