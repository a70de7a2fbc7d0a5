// The node:* listener adapter. It runs unchanged on Bun, Deno and Node (RUNTIMES.md: node:net +
// node:http2 secure servers are the one combination that honours per-host client auth and shows
// the peer certificate to the handler on all three).

import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { TLSSocket } from "node:tls";
import { getRequestListener } from "@hono/node-server";
import { listenError } from "../listen-error.ts";
import type { ConnectionInfo, ListenerSpec, RunningListener, StartListener, TlsPolicy } from "../types.ts";
import { guardClientCert, needsGuard, refusal } from "./client-cert-guard.ts";
import { plainConnectionInfo, tlsConnectionInfo } from "./connection-info.ts";
import { pipeToLoopback, type PipeFacts } from "./loopback-pipe.ts";
import { dispatchBySni, type SniTarget } from "./sni-dispatch.ts";

const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Idle keep-alive connections are closed after this long, as Envoy's idle_timeout does. */
const IDLE_TIMEOUT_MS = 300_000;

type Incoming = { socket: Socket & { remoteAddress?: string } };

/** On shutdown, requests in flight get this long to finish before connections are cut. */
const DRAIN_MS = 2_000;

export const startNodeListener: StartListener = async (spec) => {
  const tracker = new ConnectionTracker();
  return serveFront(spec, spec.tls ? tlsFrontServer(spec, tracker) : plainServer(spec, tracker), tracker);
};

/**
 * Listens with `front`, tracking its connections. Closing stops accepting, lets `closeInner`
 * wind down servers behind the front, then drains what is in flight and cuts the rest.
 */
export async function serveFront(
  spec: ListenerSpec,
  front: NetServer,
  tracker: ConnectionTracker,
  closeInner: () => Promise<unknown> = async () => {},
): Promise<RunningListener> {
  front.on("connection", (socket: Socket) => tracker.add(socket));
  const port = await listen(front, spec);
  return {
    name: spec.name,
    port,
    close: async () => {
      front.close();
      await closeInner();
      await tracker.drain(DRAIN_MS);
    },
  };
}

/** Knows every socket and every request in flight, so shutdown can drain, then cut. */
export class ConnectionTracker {
  private readonly sockets = new Set<Socket>();
  active = 0;
  private idle: (() => void) | undefined;

  add(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }
  begin(): void {
    this.active++;
  }
  end(): void {
    if (--this.active === 0) this.idle?.();
  }
  async drain(ms: number): Promise<void> {
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.idle = () => (clearTimeout(timer), resolve());
      });
    }
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

function plainServer(spec: ListenerSpec, tracker: ConnectionTracker): NetServer {
  const listener = bridge(spec, tracker, (incoming) => plainConnectionInfo(incoming.socket));
  const server = createHttpServer({ keepAliveTimeout: IDLE_TIMEOUT_MS, requestTimeout: 60_000 }, listener);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // Envoy answers a request it cannot parse with 400 and one too big with 431, then closes.
    if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
    const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  return server;
}

function tlsFrontServer(spec: ListenerSpec, tracker: ConnectionTracker): NetServer {
  const targets = spec.tls!.policies.map((policy, index) => http2Target(spec, tracker, policy, index));
  return sniFrontServer(spec, targets);
}

/** Hands a connection to the node:http2 secure server of one policy, in process. */
export function http2Target(spec: ListenerSpec, tracker: ConnectionTracker, policy: TlsPolicy, index: number): SniTarget {
  const server = secureServer(spec, tracker, policy, index);
  return { emit: (socket) => server.emit("connection", socket) };
}

/**
 * node-http2-pipe, for Deno: the same servers, each listening on a loopback port, the front
 * piping connections to them. Deno's node:http2 (and node:https) close an HTTP/1.1 connection
 * handed over with emit("connection") after its first response, so every request paid a new
 * handshake (1.4k req/s instead of ~8k); a listening server keeps the connection alive.
 */
export const startNodePipeListener: StartListener = async (spec) => {
  if (!spec.tls) return startNodeListener(spec); // plain HTTP keeps its connections alive as is
  const tracker = new ConnectionTracker();
  const facts: PipeFacts = new Map();
  const inner: Http2SecureServer[] = [];
  const targets: SniTarget[] = [];
  const piped = (socket: TLSSocket) => facts.get(socket.remotePort ?? 0)?.remoteAddress;
  for (const [index, policy] of spec.tls!.policies.entries()) {
    const server = secureServer(spec, tracker, policy, index, piped);
    // Without this, Nagle's algorithm meets the client's delayed ACK on every HTTP/1.1
    // response: ~40 ms each, 1.1k req/s for 50 connections (measured with npm run bench).
    server.on("connection", (socket: Socket) => socket.setNoDelay(true));
    inner.push(server);
    const port = await listen(server as unknown as NetServer, { ...spec, name: `${spec.name} (inner)`, address: "127.0.0.1", port: 0 });
    targets.push({ emit: (socket, serverName) => pipeToLoopback(socket, port, serverName ?? "", facts) });
  }
  return serveFront(spec, sniFrontServer(spec, targets), tracker, async () => {
    for (const s of inner) s.close();
  });
};

/** A plain TCP server that reads each ClientHello and passes the connection to its policy's target. */
export function sniFrontServer(spec: ListenerSpec, targets: SniTarget[]): NetServer {
  const tls = spec.tls!;
  const front = createNetServer({ noDelay: true });
  front.on("connection", (socket) => {
    dispatchBySni(socket, (name) => {
      const i = tls.selectPolicy(name);
      return i === undefined ? undefined : targets[i];
    });
  });
  return front;
}

function secureServer(
  spec: ListenerSpec,
  tracker: ConnectionTracker,
  policy: TlsPolicy,
  index: number,
  remoteAddress?: (socket: TLSSocket) => string | undefined,
): Http2SecureServer {
  const askCert = policy.requireClientCert || policy.requestClientCert === true;
  const listener = bridge(
    spec,
    tracker,
    (incoming) => tlsConnectionInfo(incoming.socket as unknown as TLSSocket, index, askCert, remoteAddress),
    needsGuard(policy) ? (incoming) => refusal(incoming.socket as unknown as TLSSocket, policy) === undefined : undefined,
  );
  const server = createSecureServer(
    {
      key: policy.keyPem,
      cert: policy.certPem,
      ca: policy.caPem,
      requestCert: askCert,
      // OPTIONAL_MUTUAL: an untrusted certificate is refused by the guard, a missing one admitted.
      rejectUnauthorized: policy.requireClientCert,
      allowHTTP1: true,
      ALPNProtocols: ["h2", "http/1.1"],
      minVersion: policy.minVersion ?? spec.tls!.minVersion,
      ...(policy.maxVersion ? { maxVersion: policy.maxVersion } : {}),
      ...(policy.ciphers ? { ciphers: policy.ciphers } : {}),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    },
    listener,
  );
  guardClientCert(server, policy);
  server.setTimeout(IDLE_TIMEOUT_MS);
  // Failed handshakes (no client certificate, untrusted CA, garbage) are the client's problem:
  // the connection is closed and nothing else is affected.
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  server.on("sessionError", () => {});
  return server;
}

function bridge(
  spec: ListenerSpec,
  tracker: ConnectionTracker,
  connInfo: (incoming: Incoming) => ConnectionInfo,
  /** False: the connection must not be served (client-cert-guard.ts); it is destroyed. */
  admit?: (incoming: Incoming) => boolean,
) {
  const onRequest = getRequestListener((req, env) => spec.handler(req, connInfo((env as { incoming: Incoming }).incoming)), {
    // Keep the runtime's own Request/Response: the upstream client passes them to fetch.
    overrideGlobalObjects: false,
    errorHandler: (err) => {
      spec.onError?.(err as Error);
      return new Response(null, { status: 500 });
    },
  });
  return (incoming: IncomingMessage | Http2ServerRequest, outgoing: ServerResponse | Http2ServerResponse) => {
    if (admit && !admit(incoming as unknown as Incoming)) return void incoming.socket.destroy();
    tracker.begin();
    // Bun's node:http2 does not always emit "close" on a finished response; either event ends it.
    let done = false;
    const end = () => {
      if (!done) (done = true), tracker.end();
    };
    outgoing.once("finish", end);
    outgoing.once("close", end);
    return onRequest(incoming, outgoing);
  };
}

export function listen(server: NetServer, spec: ListenerSpec): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(spec, err));
    server.once("error", onError);
    server.listen({ host: spec.address, port: spec.port, backlog: 4096 }, () => {
      server.removeListener("error", onError);
      server.on("error", (err) => spec.onError?.(err));
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : spec.port);
    });
  });
}
