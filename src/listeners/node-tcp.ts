// The node-tcp adapter: plain TCP forwarding (Istio `protocol: TCP`) and TLS passthrough
// (`protocol: TLS`, mode PASSTHROUGH), where the ClientHello's SNI picks the backend and the
// bytes, ClientHello included, reach it untouched. node:net only, so it runs unchanged on Bun,
// Deno and Node (docs/runtimes.md, "TCP forwarding and passthrough"; half-close checked on all
// three).
//
// Envoy's tcp_proxy semantics: connect timeout 10 s (Istio's default connectTimeout) unless the
// service's connectionPool sets one (with tcpKeepalive, SO_KEEPALIVE on the backend side), idle
// timeout 1 h, half-close passed on (a client's FIN becomes a FIN to the backend and the other
// way round), an error or reset on one side closes both.

import { connect, createServer, type Socket } from "node:net";
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from "../config/limits.ts";
import { ConnectionTracker, serveFront } from "./_shared/connections.ts";
import { normalizeAddress } from "./_shared/connection-info.ts";
import { dispatchBySni } from "./_shared/sni-front.ts";
import type { StartListener, StreamBackend, StreamEnd, StreamListenerSpec } from "./_shared/types.ts";

const CONNECT_TIMEOUT_MS = 10_000;

export const startNodeTcp: StartListener<StreamListenerSpec> = async (spec) => {
  // Both sides of every forwarded connection are tracked: shutdown waits for them to close.
  const connections = new ConnectionTracker("sockets");
  const server = createServer({ allowHalfOpen: true, noDelay: true });
  server.on("connection", (client: Socket) => accept(client, spec, connections));
  return serveFront(spec, server, connections);
};

function accept(client: Socket, spec: StreamListenerSpec, connections: ConnectionTracker): void {
  const rec = spec.events?.streamEnd ? streamRecord(client, spec) : undefined;
  if (!spec.sni) {
    // Nothing is read before the backend answers; the kernel buffers what the client sends.
    client.pause();
    const backend = spec.backend(undefined);
    if (backend === undefined) return refuse(client, spec, rec);
    return forward(client, backend, connections, spec, rec);
  }
  // dispatchBySni destroys connections whose ClientHello is invalid, too large, stalled for 10 s,
  // or names no backend; otherwise the ClientHello is back in the (paused) socket.
  dispatchBySni(client, (serverName) => {
    if (rec) rec.sni = serverName;
    const backend = spec.backend(serverName);
    if (backend === undefined) return void refuse(client, spec, rec);
    return { emit: (socket) => forward(socket, backend, connections, spec, rec) };
  });
}

/** The access-log record of one connection, only made when the listener reports them. */
function streamRecord(client: Socket, spec: StreamListenerSpec): StreamEnd {
  return {
    startTime: Date.now(),
    kind: spec.sni ? "tls-passthrough" : "tcp",
    sni: undefined,
    upstreamHost: undefined,
    upstreamService: undefined,
    flags: [],
    bytesReceived: 0,
    bytesSent: 0,
    durationMs: 0,
    remoteAddress: normalizeAddress(client.remoteAddress),
  };
}

/** No route (Envoy's NR): the connection is closed; the socket counters give the bytes. */
function refuse(client: Socket, spec: StreamListenerSpec, rec: StreamEnd | undefined): undefined {
  if (rec) {
    rec.flags.push("NR");
    client.once("close", () => streamEnded(spec, rec, client));
  }
  client.destroy();
  return undefined;
}

function streamEnded(spec: StreamListenerSpec, rec: StreamEnd, client: Socket): void {
  rec.bytesReceived = client.bytesRead;
  rec.bytesSent = client.bytesWritten;
  rec.durationMs = Date.now() - rec.startTime;
  spec.events!.streamEnd!(rec);
}

function forward(
  client: Socket,
  backend: StreamBackend,
  connections: ConnectionTracker,
  spec: StreamListenerSpec,
  rec: StreamEnd | undefined,
): void {
  const logError = (message: string) => spec.onError?.(new Error(`listener "${spec.name}": ${message}`));
  const upstream = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true });
  if (backend.keepAliveMs !== undefined) upstream.setKeepAlive(true, backend.keepAliveMs);
  connections.add(upstream);
  const connectTimeoutMs = backend.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  let connected = false;
  let settled = false;
  const report = (ok: boolean) => {
    if (settled) return;
    settled = true;
    backend.connected?.(ok);
  };
  const closeBoth = () => {
    clearTimeout(connectTimer);
    report(false);
    client.destroy();
    upstream.destroy();
  };
  const connectTimer = setTimeout(() => {
    logError(`no connection to ${backend.host}:${backend.port} within ${connectTimeoutMs} ms`);
    closeBoth();
  }, connectTimeoutMs);
  upstream.once("connect", () => {
    clearTimeout(connectTimer);
    connected = true;
    report(true);
    // Every byte either way passes through `client`, so its inactivity timer is the idle timer
    // (limits.idleTimeout; Envoy tcp_proxy's default idle_timeout is 1 h).
    const idle = spec.limits ? spec.limits.idleTimeoutMs : DEFAULT_STREAM_IDLE_TIMEOUT_MS;
    if (idle !== undefined) client.setTimeout(idle, closeBoth);
    // pipe() passes backpressure and, with allowHalfOpen, turns each side's FIN into end().
    client.pipe(upstream);
    upstream.pipe(client);
  });
  upstream.on("error", (err: NodeJS.ErrnoException) => {
    if (!connected) logError(`cannot connect to ${backend.host}:${backend.port}: ${err.code ?? err.message}`);
    closeBoth();
  });
  client.on("error", closeBoth);
  // A side that closes after an error takes the other with it; an orderly close (both FINs)
  // leaves the other side to flush what it still holds and close by itself.
  upstream.once("close", (hadError: boolean) => {
    if (connected) backend.closed?.();
    return hadError || !connected ? closeBoth() : undefined;
  });
  client.once("close", (hadError: boolean) => (hadError ? closeBoth() : undefined));
  if (rec) recordForward(client, upstream, backend, spec, rec, () => connected);
}

/**
 * Fills the record as the connection goes: UF when the backend was never reached, UC when it
 * reset, DC when the client did; reported once both sides have closed.
 */
function recordForward(
  client: Socket,
  upstream: Socket,
  backend: StreamBackend,
  spec: StreamListenerSpec,
  rec: StreamEnd,
  connected: () => boolean,
): void {
  rec.upstreamHost = `${backend.host.includes(":") ? `[${backend.host}]` : backend.host}:${backend.port}`;
  rec.upstreamService = backend.service;
  let open = 2;
  const closed = () => {
    if (--open === 0) streamEnded(spec, rec, client);
  };
  upstream.once("close", (hadError: boolean) => {
    if (!connected()) rec.flags.push("UF");
    else if (hadError && open === 2) rec.flags.push("UC");
    closed();
  });
  client.once("close", (hadError: boolean) => {
    if (hadError && open === 2 && connected()) rec.flags.push("DC");
    closed();
  });
}
