// The bun-sni adapter, Bun's fastest exact TLS path: the node:net front reads each ClientHello
// (so an unknown SNI is refused, as Istio does), then pipes SIMPLE connections to a Bun.serve TLS
// server of that policy on a loopback port, and hands the other policies to node:http2 in
// process (Bun.serve cannot show the client certificate, which x-forwarded-client-cert needs:
// oven-sh/bun#14097). Measured here against node:http2 alone: about 1.7x the requests per
// second (docs/runtimes.md, "Listener adapters").
//
// WebSocket: Bun.serve cannot give a request's connection away. Its server.upgrade() ends in
// message-level ServerWebSockets that answer pings themselves, so a relay through it would not
// leave frames untouched; and the front, outside TLS, cannot see an upgrade coming. Serving
// every SIMPLE policy with node:http2 instead (whose `upgrade` event hands over the raw socket)
// cost too much: `npm run bench` on Bun, two runs each, H1 over TLS 4.0k and 4.3k req/s
// against 12.1k and 10.7k on Bun.serve, h2 6.9k and 8.8k against 12.5k and 8.9k. So when the
// listener's routes forward upgrades (the default, as in Envoy) the front chooses by the
// ClientHello's ALPN: a client offering h2 gets Bun.serve (h2 WebSockets would need
// SETTINGS_ENABLE_CONNECT_PROTOCOL, which Bun.serve cannot send; browsers then open a
// WebSocket on its own HTTP/1.1 connection), any other (HTTP/1.1 only, or no ALPN, as WebSocket
// clients send) gets Bun's node:https on loopback, whose `upgrade` event gives the raw socket.

import { DEFAULT_TLS12_CIPHERS } from "../tls/server-defaults.ts";
import { serveBun, stopBun, type BunServer } from "./_shared/bun.ts";
import { startBunServe } from "./bun-serve.ts";
import { startNodeHttp2 } from "./node-http2.ts";
import type { Server as NetServer } from "node:net";
import type { TLSSocket } from "node:tls";
import { ConnectionTracker, listen, serveFront } from "./_shared/connections.ts";
import { pipeToLoopback, type PipeFacts } from "./_shared/loopback-pipe.ts";
import { policyNeeds } from "./_shared/needs.ts";
import { bunServeCannot } from "./_shared/limits-bun.ts";
import { h1SecureServer, http2Target } from "./_shared/node-http.ts";
import { sniFrontServer, type SniTarget } from "./_shared/sni-front.ts";
import { pipedBudget } from "./_shared/traffic-budget.ts";
import type { HttpListenerSpec, StartListener, TlsPolicy } from "./_shared/types.ts";

export const startBunSni: StartListener = async (spec) => {
  // Without TLS there is no ClientHello to read: a plain listener is Bun.serve's, as bun-serve
  // serves it, so `--adapter bun-sni` still starts a config that has an HTTP redirect port.
  const tls = spec.tls;
  // Bun.serve cannot write trailers nor hand over an upgraded connection: a plain listener that
  // needs either is node's throughout.
  if (tls === undefined) return spec.trailers || spec.upgrades ? startNodeHttp2(spec) : startBunServe(spec);
  const tracker = new ConnectionTracker("requests", spec.events);
  const facts: PipeFacts = new Map();
  const inner: BunServer[] = [];
  const h1: NetServer[] = [];
  const piped = (socket: TLSSocket) => facts.get(socket.remotePort ?? 0)?.remoteAddress;
  const targets: SniTarget[] = [];
  for (const [index, policy] of tls.policies.entries()) {
    if (spec.trailers || needsHttp2(policy)) {
      targets.push(http2Target(spec, tracker, policy, index));
      continue;
    }
    const server = innerServer(spec, policy, index, facts);
    inner.push(server);
    const bunPort = server.port!;
    if (!spec.upgrades) {
      targets.push({
        emit: (socket, name, alpn) =>
          alpn.includes("h2")
            ? pipeToLoopback(socket, bunPort, name ?? "", facts, true, pipedBudget(socket))
            : pipeToLoopback(socket, bunPort, name ?? "", facts),
      });
      continue;
    }
    const https = h1SecureServer(spec, tracker, policy, index, piped) as unknown as NetServer;
    h1.push(https);
    const where = { ...spec, name: `${spec.name} (inner)`, address: "127.0.0.1", port: 0 };
    const h1Port = await listen(https, where);
    targets.push({
      emit: (socket, name, alpn) =>
        alpn.includes("h2")
          ? pipeToLoopback(socket, bunPort, name ?? "", facts, true, pipedBudget(socket))
          : pipeToLoopback(socket, h1Port, name ?? "", facts),
    });
  }
  const running = await serveFront(spec, sniFrontServer(tls, targets, spec.events), tracker, async () => {
    for (const s of h1) s.close();
    await stopBun(inner);
  });
  // h2 clients of SIMPLE policies (and, without upgrades, HTTP/1.1 ones) are Bun.serve's.
  return inner.length > 0 ? { ...running, unenforced: bunServeCannot(spec, true) } : running;
};

/**
 * Client certificates (MUTUAL, OPTIONAL_MUTUAL, SAN/SPKI/hash/CRL checks) and per-server TLS
 * versions or cipher suites go to node:http2, which honours them all; Bun.serve is kept for the
 * plain SIMPLE policies it serves exactly.
 */
function needsHttp2(policy: TlsPolicy): boolean {
  return Object.values(policyNeeds(policy)).some(Boolean);
}

function innerServer(spec: HttpListenerSpec, policy: TlsPolicy, index: number, facts: PipeFacts): BunServer {
  const tls = {
    cert: policy.certPem,
    key: policy.keyPem,
    ciphers: DEFAULT_TLS12_CIPHERS,
    lowMemoryMode: false,
  };
  return serveBun(spec, { address: "127.0.0.1", port: 0 }, tls, (req, srv) => {
    const ip = srv.requestIP(req);
    const f = ip ? facts.get(ip.port) : undefined;
    // Only connections the front piped here are served: anything else bypassed SNI checks.
    if (!f) return new Response(null, { status: 421 });
    // Bun.serve shows no HTTP/2 frame: the front budgets the connection's bytes against its
    // requests (traffic-budget.ts). A body without Content-Length is not credited.
    f.budget?.stream(Number(req.headers.get("content-length")) || 0);
    // Bun.serve tells nothing of its handshakes: the first request on a connection shows one
    // completed (one that failed inside Bun.serve is not seen).
    if (f.served === undefined) {
      f.served = true;
      spec.events?.handshake?.("ok");
    }
    return spec.handler(req, {
      remoteAddress: f.remoteAddress,
      protocol: f.h2 ? "HTTP/2" : "HTTP/1.1",
      tls: { serverName: f.serverName, serverIndex: index, alpn: "", peer: undefined },
    });
  });
}
