// The node-http2-pipe adapter, for Deno: node-http2's servers, each listening on a loopback
// port, the front piping connections to them. Deno's node:http2 (and node:https) close an
// HTTP/1.1 connection handed over with emit("connection") after its first response, so every
// request paid a new handshake (1.4k req/s instead of ~8k); a listening server keeps the
// connection alive.

import type { Http2SecureServer } from "node:http2";
import type { Server as NetServer, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ConnectionTracker, listen, Retired, serveFront } from "./_shared/connections.ts";
import { Http2Servers } from "./_shared/http2-servers.ts";
import { pipeToLoopback, type PipeFacts } from "./_shared/loopback-pipe.ts";
import { sniFrontServer, type SniRoutes } from "./_shared/sni-front.ts";
import type { HttpListenerSpec, StartListener, TlsListenerSpec } from "./_shared/types.ts";
import { startNodeHttp2 } from "./node-http2.ts";

export const startNodeHttp2Pipe: StartListener = async (spec) => {
  const tls = spec.tls;
  if (!tls) return startNodeHttp2(spec); // plain HTTP keeps its connections alive as is
  const tracker = new ConnectionTracker("requests", spec.events);
  const facts: PipeFacts = new Map();
  const piped = (socket: TLSSocket) => facts.get(socket.remotePort ?? 0)?.remoteAddress;
  const client = (socket: TLSSocket) => facts.get(socket.remotePort ?? 0)?.client;
  const servers = new Http2Servers(spec, tracker, piped, client);
  const ports = new Map<Http2SecureServer, number>();
  const open = new Map<Http2SecureServer, Set<Socket>>();
  await listenAll(
    spec,
    servers.start(tls, () => true),
    ports,
    open,
  );
  const targetsOf = (t: TlsListenerSpec) =>
    t.policies.map((_, i) => ({
      emit: (socket: Socket, serverName: string | undefined) =>
        pipeToLoopback(socket, ports.get(servers.byPolicy[i]!)!, serverName ?? "", facts),
    }));
  const routes: SniRoutes = { tls, targets: targetsOf(tls) };
  const close = async (list: Http2SecureServer[]) => {
    for (const s of list) {
      s.close();
      ports.delete(s);
      open.delete(s);
    }
  };
  // A replaced server stops listening once its connections have ended (Http2Servers tells each
  // to end after its next response), or RETIRED_DRAIN_MS on. Closing it before closed its idle
  // HTTP/1.1 connections under clients about to send on them (ECONNRESET, seen on Deno).
  const closeWhenIdle = (s: Http2SecureServer) => {
    const until = Date.now() + RETIRED_DRAIN_MS;
    const check = () => {
      if (!ports.has(s)) return; // the listener closed
      if ((open.get(s)?.size ?? 0) === 0 || Date.now() >= until) return void close([s]);
      setTimeout(check, 1_000).unref?.();
    };
    check();
  };
  const retired = new Retired<Http2SecureServer>(async (list) => list.forEach(closeWhenIdle));
  // Every server, retired ones too: they are all in `ports` until closed.
  const running = await serveFront(spec, sniFrontServer(routes, spec.events), tracker, () =>
    close([...ports.keys()]),
  );
  return {
    ...running,
    // A new server listens before the front points at it; a replaced one ends each of its
    // connections after their next response and closes once they have (or the listener closes).
    updateTls: async (next) => {
      const update = servers.update(next);
      await listenAll(spec, update.fresh, ports, open);
      update.commit();
      routes.tls = next;
      routes.targets = targetsOf(next);
      retired.add(update.retired);
      return true;
    },
  };
};

/**
 * How long a replaced server waits for its connections to end before it closes them: Envoy's
 * default drain time (`--drain-time-s`, 600 s) for a listener it replaced.
 */
export const RETIRED_DRAIN_MS = 600_000;

async function listenAll(
  spec: HttpListenerSpec,
  servers: Http2SecureServer[],
  ports: Map<Http2SecureServer, number>,
  open: Map<Http2SecureServer, Set<Socket>>,
) {
  const where = { ...spec, name: `${spec.name} (inner)`, address: "127.0.0.1", port: 0 };
  for (const server of servers) {
    const sockets = new Set<Socket>();
    open.set(server, sockets);
    server.on("connection", (socket: Socket) => {
      // Without this, Nagle's algorithm meets the client's delayed ACK on every HTTP/1.1
      // response: ~40 ms each, 1.1k req/s for 50 connections (measured with npm run bench).
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
    ports.set(server, await listen(server as unknown as NetServer, where));
  }
}
