// The bun-sni adapter, Bun's fastest exact TLS path: the node:net front reads each ClientHello
// (so an unknown SNI is refused, as Istio does), then pipes SIMPLE connections to a Bun.serve TLS
// server of that policy on a loopback port, and hands the other policies to node:http2 in
// process (Bun.serve cannot show the client certificate, which x-forwarded-client-cert needs:
// oven-sh/bun#14097). Measured here against node:http2 alone: about 1.7x the requests per
// second (docs/runtimes.md, "Listener adapters").
//
// WebSocket: Bun.serve cannot give a request's connection away. Its server.upgrade() ends in
// message-level ServerWebSockets that answer pings themselves, so a relay through it would not
// leave frames untouched, and an upgrade can follow ordinary requests on a keep-alive
// connection, which the front (outside TLS) cannot see coming. So a listener whose routes
// forward upgrades (the default, as in Envoy) is served by node:http2 here too, whose
// `upgrade` event hands over the raw socket; `websocket: false` on every route of the
// listener keeps Bun.serve.

import { serveBun, stopBun, type BunServer } from "./_shared/bun.ts";
import { startBunServe } from "./bun-serve.ts";
import { startNodeHttp2 } from "./node-http2.ts";
import { ConnectionTracker, serveFront } from "./_shared/connections.ts";
import { pipeToLoopback, type PipeFacts } from "./_shared/loopback-pipe.ts";
import { policyNeeds } from "./_shared/needs.ts";
import { http2Target } from "./_shared/node-http.ts";
import { sniFrontServer, type SniTarget } from "./_shared/sni-front.ts";
import type { HttpListenerSpec, StartListener, TlsPolicy } from "./_shared/types.ts";

export const startBunSni: StartListener = async (spec) => {
  // Without TLS there is no ClientHello to read: a plain listener is Bun.serve's, as bun-serve
  // serves it, so `--adapter bun-sni` still starts a config that has an HTTP redirect port.
  const tls = spec.tls;
  if (tls === undefined) return spec.upgrades ? startNodeHttp2(spec) : startBunServe(spec);
  const tracker = new ConnectionTracker("requests");
  const facts: PipeFacts = new Map();
  const inner: BunServer[] = [];
  const targets = tls.policies.map((policy, index): SniTarget => {
    if (needsHttp2(policy) || spec.upgrades) return http2Target(spec, tracker, policy, index);
    const server = innerServer(spec, policy, index, facts);
    inner.push(server);
    return { emit: (socket, serverName) => pipeToLoopback(socket, server.port!, serverName ?? "", facts) };
  });
  return serveFront(spec, sniFrontServer(tls, targets), tracker, () => stopBun(inner));
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
  const tls = { cert: policy.certPem, key: policy.keyPem, lowMemoryMode: false };
  return serveBun(spec, { address: "127.0.0.1", port: 0 }, tls, (req, srv) => {
    const ip = srv.requestIP(req);
    const f = ip ? facts.get(ip.port) : undefined;
    // Only connections the front piped here are served: anything else bypassed SNI checks.
    if (!f) return new Response(null, { status: 421 });
    return spec.handler(req, {
      remoteAddress: f.remoteAddress,
      tls: { serverName: f.serverName, serverIndex: index, alpn: "", peer: undefined },
    });
  });
}
