// Reads the ClientHello off a raw TCP socket and hands the socket, bytes intact, to what its SNI
// selects: the TLS server of a policy (sniFrontServer; node-http2, node-http2-pipe, bun-sni) or
// a passthrough backend (node-tcp). One TLS server per policy is what lets a MUTUAL host and a
// SIMPLE host share a port exactly: only the MUTUAL server ever asks for a certificate.
// `pause()` before `unshift()` matters: without it Bun and Deno lose the ClientHello
// (docs/runtimes.md, "The SNI front").

import { createServer, type Server, type Socket } from "node:net";
import { MAX_CLIENT_HELLO, parseClientHello } from "../../tls/client-hello.ts";
import type { HandshakeOutcome } from "../../observe/records.ts";
import type { ListenerEvents, TlsListenerSpec } from "./types.ts";
import { pipeToLoopback, type PipeFacts } from "./loopback-pipe.ts";

/** RFC 8737 §6.2. */
const ACME_TLS_ALPN = "acme-tls/1";

/** A client that has not finished its ClientHello by then is dropped. */
export const CLIENT_HELLO_TIMEOUT_MS = 10_000;

/** Where a connection goes once its SNI is known; the ClientHello is back in the socket, unread. */
export interface SniTarget {
  /** `alpn`: the protocols the ClientHello offers (bun-sni chooses its inner server by them). */
  emit(socket: Socket, serverName: string | undefined, alpn: string[]): void;
}

export type SniDecision = (serverName: string | undefined, alpn: string[]) => SniTarget | undefined;

/**
 * `refused` hears why a connection was dropped before its ClientHello reached a target: no or
 * an unknown SNI, or "protocol" for bytes that are not a ClientHello (garbage, too large, cut
 * short by the client, stalled). A connection closed before sending any byte is not counted:
 * load balancers' TCP checks do that.
 */
export function dispatchBySni(
  socket: Socket,
  decide: SniDecision,
  refused?: (outcome: HandshakeOutcome) => void,
): void {
  // State on the socket and listeners shared by every connection, no closure each: what each
  // connection costs bounds the handshakes per second (docs/runtimes.md, "Where a request's CPU
  // goes").
  (socket as Reading)[HELLO] = { buffered: undefined, decide, refused };
  socket.setNoDelay(true);
  socket.setTimeout(CLIENT_HELLO_TIMEOUT_MS);
  socket.on("timeout", drop);
  socket.on("error", drop);
  socket.on("end", drop);
  socket.on("data", onData);
}

const HELLO = Symbol("portico.clientHello");
interface HelloState {
  buffered: Buffer | undefined;
  decide: SniDecision;
  refused: ((outcome: HandshakeOutcome) => void) | undefined;
}
type Reading = Socket & { [HELLO]?: HelloState };

function drop(this: Reading): void {
  const state = this[HELLO];
  if (state?.buffered !== undefined) state.refused?.("protocol");
  this.destroy();
}

function onData(this: Reading, chunk: Buffer): void {
  const state = this[HELLO]!;
  const buffered = state.buffered === undefined ? chunk : Buffer.concat([state.buffered, chunk]);
  state.buffered = buffered;
  const hello = parseClientHello(buffered);
  if (hello.kind === "incomplete") {
    if (buffered.length > MAX_CLIENT_HELLO) drop.call(this);
    return;
  }
  this[HELLO] = undefined;
  this.removeListener("data", onData);
  this.removeListener("error", drop);
  this.removeListener("end", drop);
  this.removeListener("timeout", drop);
  this.setTimeout(0);
  if (hello.kind === "invalid") {
    state.refused?.("protocol");
    this.destroy();
    return;
  }
  const target = state.decide(hello.serverName, hello.alpn);
  if (target === undefined) {
    // Istio/Envoy end the handshake for a name no server lists; so do we (curl sees exit 35).
    state.refused?.(hello.serverName === undefined ? "no_sni" : "unknown_sni");
    this.destroy();
    return;
  }
  this.pause();
  this.unshift(buffered);
  target.emit(this, hello.serverName, hello.alpn);
}

/**
 * What the front consults for each connection: policy `i`'s connections go to `targets[i]`. An
 * adapter that takes new credentials in place (updateTls) sets `tls` to the new table.
 */
export interface SniRoutes {
  tls: TlsListenerSpec;
  targets: SniTarget[];
}

/** A plain TCP server that reads each ClientHello and passes the connection to its policy's target. */
export function sniFrontServer(routes: SniRoutes, events?: ListenerEvents): Server {
  const front = createServer({ noDelay: true });
  const refused = events?.handshake && ((outcome: HandshakeOutcome) => events.handshake!(outcome));
  const acme = routes.tls.acmeTlsAlpn && acmeTarget(routes.tls.acmeTlsAlpn);
  const decide = (name: string | undefined, alpn: string[]) => {
    if (acme !== undefined && alpn.includes(ACME_TLS_ALPN)) {
      const t = acme(name);
      if (t !== undefined) return t;
    }
    const i = routes.tls.selectPolicy(name);
    return i === undefined ? undefined : routes.targets[i];
  };
  front.on("connection", (socket) => dispatchBySni(socket, decide, refused));
  return front;
}

/**
 * tls-alpn-01: the CA's validation handshake for a pending name goes to the loopback server that
 * presents the validation certificate (src/acme/challenges.ts); any other name is not its business.
 */
function acmeTarget(acme: NonNullable<TlsListenerSpec["acmeTlsAlpn"]>) {
  const facts: PipeFacts = new Map();
  return (name: string | undefined): SniTarget | undefined => {
    const port = acme.tlsAlpnPort(name);
    if (port === undefined) return undefined;
    return { emit: (socket) => pipeToLoopback(socket, port, name ?? "", facts) };
  };
}
