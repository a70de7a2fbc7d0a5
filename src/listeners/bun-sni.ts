// The bun-sni adapter, Bun's fastest exact TLS path: the node:net front reads each ClientHello
// (so an unknown SNI is refused, as Istio does), then pipes SIMPLE connections to a Bun.serve TLS
// server on a loopback port, and hands the other policies to node:http2 in process (Bun.serve
// cannot show the client certificate, which x-forwarded-client-cert needs: oven-sh/bun#14097).
// Measured here against node:http2 alone: about 1.7x the requests per second (docs/runtimes.md,
// "Listener adapters").
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
// clients send) gets node:http2 in process (HTTP/1.1 allowed), whose `upgrade` event gives the
// raw socket. (That was one node:https per policy on loopback; node:https on Bun cannot choose a
// certificate by SNI, oven-sh/bun#14395, so one could not serve many hosts.)
//
// Hosts at scale: one Bun.serve serves every SIMPLE policy whose names are exact (and the "*"
// server), its `tls` entries chosen by SNI. The front has already refused names no policy
// lists, and Bun matches an exact name as the front does (case, trailing dot). A policy with a
// wildcard name gets a Bun.serve of its own, because Bun's "*.example.com" matches one label
// only (bunTls). So the listener's file descriptors do not grow with its host count.
// Bun.serve's reload() does not change certificates (checked on Bun 1.4.5: the old one is
// still served), so new credentials get a new Bun.serve, which the front points at before the
// old one stops.

import type { TLSOptions } from "bun";
import { createHash } from "node:crypto";
import { bunTls, retiring, serveBun, stopBun, type BunServer } from "./_shared/bun.ts";
import { startBunServe } from "./bun-serve.ts";
import { startNodeHttp2 } from "./node-http2.ts";
import { ConnectionTracker, Retired, serveFront } from "./_shared/connections.ts";
import { Http2Servers } from "./_shared/http2-servers.ts";
import { pipeToLoopback, type PipeFacts } from "./_shared/loopback-pipe.ts";
import { policyNeeds } from "./_shared/needs.ts";
import { bunServeCannot } from "./_shared/limits-bun.ts";
import { sniFrontServer, type SniRoutes, type SniTarget } from "./_shared/sni-front.ts";
import { HandedOver, pipedBudget } from "./_shared/traffic-budget.ts";
import type { HttpListenerSpec, StartListener, TlsListenerSpec, TlsPolicy } from "./_shared/types.ts";

export const startBunSni: StartListener = async (spec) => {
  // Without TLS there is no ClientHello to read: a plain listener is Bun.serve's, as bun-serve
  // serves it, so `--adapter bun-sni` still starts a config that has an HTTP redirect port.
  const tls = spec.tls;
  // Bun.serve cannot write trailers nor hand over an upgraded connection: a plain listener that
  // needs either is node's throughout.
  if (tls === undefined) return spec.trailers || spec.upgrades ? startNodeHttp2(spec) : startBunServe(spec);
  const tracker = new ConnectionTracker("requests", spec.events);
  const facts: PipeFacts = new Map();
  const onBun = (p: TlsPolicy) => !spec.trailers && !needsHttp2(p);
  // The raw socket each TLS socket was made from counts the client's bytes (traffic-budget.ts).
  const handed = new HandedOver();
  const http2 = new Http2Servers(spec, tracker, undefined, (tls) => handed.find(tls));
  http2.start(tls, (p) => !onBun(p) || spec.upgrades === true);
  const bun = new BunServers(spec, facts);
  bun.start(tls, onBun);
  const inProcess = (i: number, socket: Parameters<SniTarget["emit"]>[0]) => {
    handed.add(socket);
    http2.byPolicy[i]!.emit("connection", socket);
  };
  const piped = (index: number, policy: TlsPolicy): SniTarget => ({
    emit: (socket, name, alpn) => {
      const h2 = alpn.includes("h2");
      if (spec.upgrades && !h2) return inProcess(index, socket);
      // Bun.serve shows no HTTP/2 frame: its h2 connections are held to a byte budget.
      const budget = h2 ? pipedBudget(socket) : undefined;
      pipeToLoopback(socket, bun.portOf[index]!, name ?? "", facts, h2, { index, policy }, budget);
    },
  });
  const targetsOf = (t: TlsListenerSpec) =>
    t.policies.map(
      (p, i): SniTarget => (onBun(p) ? piped(i, p) : { emit: (socket) => inProcess(i, socket) }),
    );
  const routes: SniRoutes = { tls, targets: targetsOf(tls) };
  const retired = new Retired(stopBun);
  const stop = () => Promise.all([bun.stop(), retired.stopAll()]);
  const running = await serveFront(spec, sniFrontServer(routes, spec.events), tracker, stop);
  // h2 clients of SIMPLE policies (and, without upgrades, HTTP/1.1 ones) are Bun.serve's.
  const unenforced = tls.policies.some(onBun) ? bunServeCannot(spec, true) : undefined;
  return {
    ...running,
    ...(unenforced ? { unenforced } : {}),
    updateTls: async (next) => {
      // Whether Bun.serve serves any policy decides what the listener said it cannot enforce.
      if (next.policies.some(onBun) !== tls.policies.some(onBun)) return false;
      const update = http2.update(next);
      const targets = targetsOf(next);
      retired.add(bun.update(next, onBun));
      update.commit();
      routes.tls = next;
      routes.targets = targets;
      return true;
    },
  };
};

/**
 * Client certificates (MUTUAL, OPTIONAL_MUTUAL, SAN/SPKI/hash/CRL checks) and per-server TLS
 * versions or cipher suites go to node:http2, which honours them all; Bun.serve is kept for the
 * plain SIMPLE policies it serves exactly.
 */
function needsHttp2(policy: TlsPolicy): boolean {
  return Object.values(policyNeeds(policy)).some(Boolean);
}

/** The loopback Bun.serve servers: one for the exact names, one per policy with a wildcard. */
class BunServers {
  /** Policy index → the loopback port of its Bun.serve; read per connection, replaced whole. */
  portOf: number[] = [];
  /** `digest`: of the group's `tls` entries (PEM text: megabytes for thousands of hosts). */
  private groups: { members: number[]; digest: string; server: BunServer }[] = [];

  constructor(
    private readonly spec: HttpListenerSpec,
    private readonly facts: PipeFacts,
  ) {}

  start(tls: TlsListenerSpec, include: (policy: TlsPolicy) => boolean): void {
    for (const members of membersOf(tls, include)) this.groups.push(this.serve(tls, members));
    this.index();
  }

  /**
   * A new table: a group whose `tls` entries read the same keeps its server (its members may
   * have moved), any other gets a new one; returns the servers no group kept.
   */
  update(tls: TlsListenerSpec, include: (policy: TlsPolicy) => boolean): BunServer[] {
    const kept = new Map(this.groups.map((g) => [g.digest, g]));
    this.groups = membersOf(tls, include).map((members) => {
      const entries = entriesOf(tls, members);
      const digest = digestOf(entries);
      const g = kept.get(digest);
      if (g === undefined) return this.serve(tls, members, entries);
      kept.delete(digest);
      return { ...g, members };
    });
    this.index();
    const replaced = [...kept.values()].map((g) => g.server);
    // Their connections end after their next response, before the servers stop (`retiring`).
    for (const server of replaced) retiring.add(server);
    return replaced;
  }

  stop(): Promise<void> {
    return stopBun(this.groups.map((g) => g.server));
  }

  private serve(tls: TlsListenerSpec, members: number[], entries = entriesOf(tls, members)) {
    return { members, digest: digestOf(entries), server: innerServer(this.spec, entries, this.facts) };
  }

  private index(): void {
    const portOf: number[] = [];
    for (const g of this.groups) for (const i of g.members) portOf[i] = g.server.port!;
    this.portOf = portOf;
  }
}

/** The exact-name policies `include` picks in one group, each policy with a wildcard alone. */
function membersOf(tls: TlsListenerSpec, include: (policy: TlsPolicy) => boolean): number[][] {
  const groups: number[][] = [];
  const shared: number[] = [];
  for (const [i, p] of tls.policies.entries()) {
    if (!include(p)) continue;
    if (p.hosts.some((h) => h.startsWith("*."))) groups.push([i]);
    else shared.push(i);
  }
  if (shared.length > 0) groups.push(shared);
  return groups;
}

/** A server of one policy answers every name with its certificate; a shared one chooses by name. */
function entriesOf(tls: TlsListenerSpec, members: number[]): TLSOptions[] {
  if (members.length === 1) return bunTls(tls, members, members[0]).slice(0, 1);
  return bunTls(tls, members, members.includes(tls.defaultPolicy ?? -1) ? tls.defaultPolicy : undefined);
}

function digestOf(entries: TLSOptions[]): string {
  return createHash("sha256").update(JSON.stringify(entries)).digest("base64");
}

function innerServer(spec: HttpListenerSpec, tls: TLSOptions[], facts: PipeFacts): BunServer {
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
      tls: {
        serverName: f.serverName,
        serverIndex: f.server?.index ?? 0,
        policy: f.server?.policy,
        alpn: "",
        peer: undefined,
      },
    });
  });
}
