// The node-http2-pipe adapter, for Deno: node-http2's servers, each listening on a loopback
// port, the front piping connections to them. Deno's node:http2 (and node:https) close an
// HTTP/1.1 connection handed over with emit("connection") after its first response, so every
// request paid a new handshake (1.4k req/s instead of ~8k); a listening server keeps the
// connection alive.

import type { Http2SecureServer } from "node:http2";
import type { Server as NetServer, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ConnectionTracker, listen, serveFront } from "./_shared/connections.ts";
import { pipeToLoopback, type PipeFacts } from "./_shared/loopback-pipe.ts";
import { secureServer } from "./_shared/node-http.ts";
import { sniFrontServer, type SniTarget } from "./_shared/sni-front.ts";
import type { StartListener } from "./_shared/types.ts";
import { startNodeHttp2 } from "./node-http2.ts";

export const startNodeHttp2Pipe: StartListener = async (spec) => {
  const tls = spec.tls;
  if (!tls) return startNodeHttp2(spec); // plain HTTP keeps its connections alive as is
  const tracker = new ConnectionTracker("requests", spec.events);
  const facts: PipeFacts = new Map();
  const inner: Http2SecureServer[] = [];
  const targets: SniTarget[] = [];
  const piped = (socket: TLSSocket) => facts.get(socket.remotePort ?? 0)?.remoteAddress;
  const client = (socket: TLSSocket) => facts.get(socket.remotePort ?? 0)?.client;
  for (const [index, policy] of tls.policies.entries()) {
    const server = secureServer(spec, tracker, policy, index, piped, client);
    // Without this, Nagle's algorithm meets the client's delayed ACK on every HTTP/1.1
    // response: ~40 ms each, 1.1k req/s for 50 connections (measured with npm run bench).
    server.on("connection", (socket: Socket) => socket.setNoDelay(true));
    inner.push(server);
    const where = { ...spec, name: `${spec.name} (inner)`, address: "127.0.0.1", port: 0 };
    const port = await listen(server as unknown as NetServer, where);
    targets.push({ emit: (socket, serverName) => pipeToLoopback(socket, port, serverName ?? "", facts) });
  }
  return serveFront(spec, sniFrontServer(tls, targets, spec.events), tracker, async () => {
    for (const s of inner) s.close();
  });
};
