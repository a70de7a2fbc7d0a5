// Starts one listener per configured port from a provisioned Plan, wiring each HTTP(S) listener
// to its request handler (http/app.ts) and each TCP or passthrough listener to its stream
// routing (tcp/route.ts), and applies a new Plan on reload. The only module that knows both the
// core and the listener contract (besides the CLI, which picks the adapters).

import { withWorkerHeader } from "./worker-header.ts";
import { createListenerHandler, type ListenerRef } from "../http/app.ts";
import { endRecord } from "../http/request-record.ts";
import { addPolicyNeeds, tlsNeeds } from "../listeners/_shared/needs.ts";
import type {
  HttpListenerSpec,
  ListenerEvents,
  ListenerSpec,
  RunningListener,
  StartListener,
  StreamListenerSpec,
  TlsListenerSpec,
  TlsPolicy,
} from "../listeners/_shared/types.ts";
import type { HttpsListenerPlan, ListenerPlan, Plan, StreamListenerPlan } from "../provision/plan.ts";
import type { TrafficObserver } from "../observe/records.ts";
import { streamListenerSpec } from "../tcp/route.ts";
import type { UpstreamClients } from "../upstream/clients.ts";
import type { UpstreamPools } from "../upstream/pools.ts";
import { Slices } from "../util/slices.ts";
import { createHash } from "node:crypto";

export interface GatewayDeps {
  /** Chooses the adapter for each listener (see listeners/select.ts). */
  adapterFor: <S extends ListenerSpec>(spec: S) => { name: string; start: StartListener<S> };
  clients: UpstreamClients;
  /** The running pools; the gateway hands them each plan's pool specs (at start and on apply). */
  pools: UpstreamPools;
  onError?: (err: Error) => void;
  /** Where records of the traffic go (access log, metrics); none: nothing is observed. */
  observer?: TrafficObserver;
}

/** What a reload did, listener by listener. */
export interface ApplyReport {
  /** Same sockets, new routes: nothing interrupted. */
  updated: string[];
  /** Ports, addresses or TLS settings changed: stopped (in-flight requests drained) and started again. */
  restarted: string[];
  started: string[];
  stopped: string[];
  /** Listeners that could not start, with the reason; the others are serving. */
  failed: { name: string; error: Error }[];
}

export interface Gateway {
  /** Running listeners, in plan order; changes on reload. */
  listeners: RunningListener[];
  /** Which adapter serves a listener ("bun-serve", "node-http2", ...). */
  adapterOf(listener: RunningListener): string;
  /** Applies a new plan: routes change in place, listeners whose sockets change restart. */
  apply(plan: Plan): Promise<ApplyReport>;
  close(): Promise<void>;
}

/** What apply compares to tell an update in place from a restart (keysOf). */
interface Keys {
  /** Equal keys: the listener's sockets and TLS policies would be set up identically. */
  key: string;
  /** Equal too: the same TLS policies, credentials, client-certificate checks and server table. */
  tlsKey: string;
  /** HTTPS: the listener's TLS as the adapters see it, made with the keys. */
  tls?: TlsListenerSpec;
}

interface Entry extends Keys {
  /** HTTP(S) listeners: swapped to the new plan on reload. */
  ref?: ListenerRef;
  running: RunningListener;
  adapter: string;
  /** As configured (port 0 included), to tell a move from a restart in place. */
  address: string;
  port: number;
}

export async function startGateway(plan: Plan, deps: GatewayDeps): Promise<Gateway> {
  const entries = new Map<string, Entry>();
  const listeners: RunningListener[] = [];

  const startOn = async <S extends ListenerSpec>(spec: S) => {
    const adapter = deps.adapterFor(spec);
    return { running: await adapter.start(spec), adapter: adapter.name };
  };
  const start = async (
    l: ListenerPlan | StreamListenerPlan,
    serverHeader: string,
    keys?: Keys,
  ): Promise<Entry> => {
    const { key, tlsKey, tls } = keys ?? (await keysOf(l, new Slices()));
    const where = {
      name: l.name,
      address: l.address,
      port: l.port,
      onError: deps.onError,
      events: deps.observer && listenerEvents(l.name, deps.observer),
    };
    if (l.kind === "http" || l.kind === "https") {
      const ref: ListenerRef = { current: l, serverHeader };
      const spec: HttpListenerSpec = {
        kind: "http",
        ...where,
        tls,
        handler: withWorkerHeader(createListenerHandler(ref, deps.clients, deps.pools, deps.observer)),
        trailers: l.trailers,
        upgrades: l.upgrades,
        rawTarget: l.exactTarget,
        limits: { ...l.limits, maxRequestBodyBytes: l.bodyCeiling },
      };
      return {
        key,
        tlsKey,
        ref,
        address: l.address,
        port: l.port,
        ...(await startOn(spec)),
      };
    }
    const spec: StreamListenerSpec = {
      kind: "stream",
      ...where,
      ...streamListenerSpec(l, deps.pools),
      limits: l.limits,
    };
    return { key, tlsKey, address: l.address, port: l.port, ...(await startOn(spec)) };
  };
  const all = (p: Plan) => [...p.listeners, ...p.streamListeners];
  const specs = (p: Plan) => [...p.pools.values()].map((pool) => pool.spec);

  deps.pools.apply(specs(plan));
  try {
    for (const l of all(plan)) {
      const entry = await start(l, plan.serverHeader);
      entries.set(l.name, entry);
      listeners.push(entry.running);
    }
  } catch (err) {
    await Promise.all(listeners.map((s) => s.close()));
    throw err;
  }

  /**
   * A listener that moves to another address or port binds the new socket before the old one
   * closes, so that clients told the new port find it open. Only when it stays on the same
   * address and port (or the new bind fails, e.g. because another listener still holds that
   * port, or a wildcard address overlaps the old one) does the old socket close first: without
   * SO_REUSEPORT (Node has none) the port cannot be bound twice, and with it the kernel would
   * share new connections between the old and the new settings.
   */
  const restart = async (
    old: Entry,
    l: ListenerPlan | StreamListenerPlan,
    serverHeader: string,
    keys: Keys,
  ) => {
    if (old.address !== l.address || old.port !== l.port) {
      const started = await start(l, serverHeader, keys).catch(() => undefined);
      if (started) {
        await old.running.close();
        return started;
      }
    }
    await old.running.close();
    return start(l, serverHeader, keys);
  };

  const apply = async (next: Plan): Promise<ApplyReport> => {
    const report: ApplyReport = { updated: [], restarted: [], started: [], stopped: [], failed: [] };
    // The keys first, in slices (thousands of servers); the swap below then runs without
    // pauses of its own, so listeners change plan together (but for TLS updates and restarts).
    const slices = new Slices();
    const keys = new Map<string, Keys>();
    for (const l of all(next)) keys.set(l.name, await keysOf(l, slices));
    // Pools first: endpoints that stay keep their state; the new routes find the new pools.
    deps.pools.apply(specs(next));
    const wanted = new Set(all(next).map((l) => l.name));
    // Stop what goes away first, so a port can move from one listener to another.
    for (const [name, old] of entries) {
      if (wanted.has(name)) continue;
      await old.running.close();
      entries.delete(name);
      report.stopped.push(name);
    }
    for (const l of all(next)) {
      const old = entries.get(l.name);
      const k = keys.get(l.name)!;
      if (old && old.key === k.key && (await sameOrUpdatedTls(old, k))) {
        if (old.ref && (l.kind === "http" || l.kind === "https")) {
          old.ref.current = l;
          old.ref.serverHeader = next.serverHeader;
        }
        report.updated.push(l.name);
        continue;
      }
      try {
        entries.set(
          l.name,
          old ? await restart(old, l, next.serverHeader, k) : await start(l, next.serverHeader, k),
        );
        (old ? report.restarted : report.started).push(l.name);
      } catch (error) {
        entries.delete(l.name);
        report.failed.push({ name: l.name, error: error as Error });
      }
    }
    listeners.splice(0, listeners.length, ...[...entries.values()].map((e) => e.running));
    return report;
  };

  return {
    listeners,
    adapterOf: (l) => [...entries.values()].find((e) => e.running === l)?.adapter ?? "",
    apply,
    close: async () => {
      await Promise.all(listeners.map((s) => s.close()));
      deps.pools.close();
    },
  };
}

/**
 * Same needs: the same TLS keeps the listener as it is; another (hosts added or removed, a
 * renewed certificate) is handed to the running listener, served from the next handshake with
 * no connection refused; false when the listener cannot take it and must restart.
 */
async function sameOrUpdatedTls(old: Entry, keys: Keys): Promise<boolean> {
  if (old.tlsKey === keys.tlsKey) return true;
  if (keys.tls === undefined || !(await old.running.updateTls?.(keys.tls).catch(() => false))) return false;
  old.tlsKey = keys.tlsKey;
  return true;
}

/** The adapter's events of one listener, labelled with its name for the observer. */
function listenerEvents(name: string, o: TrafficObserver): ListenerEvents {
  return {
    handshake: (outcome) => o.handshake(name, outcome),
    connectionOpened: () => o.connectionOpened(name),
    connectionClosed: () => o.connectionClosed(name),
    // The handler's record of the response (http/request-record.ts), complete now.
    responseEnd: (res, end) => {
      const rec = endRecord(res, end);
      if (rec) o.request(rec);
    },
    streamEnd: (r) => o.connection({ listener: name, ...r }),
    requestStarted: o.requestStarted && (() => o.requestStarted!(name)),
    requestEnded: o.requestEnded && (() => o.requestEnded!(name)),
  };
}

let uniq = 0;

/**
 * `key`: everything that decides how a listener's sockets are set up. Routes are not in it for
 * HTTP(S) listeners (they are swapped in place); for TCP and passthrough listeners the routes
 * are part of the adapter's spec, so they are. For HTTPS listeners, what the TLS policies need
 * of the adapter (listeners/_shared/needs.ts: wildcards, client certificates, versions, ciphers,
 * a "*" server or none, ACME tls-alpn-01), not the policies themselves: the same needs pick the
 * same adapter.
 *
 * `tlsKey`: the policies of an HTTPS listener (hosts, modes, versions, ciphers, key kinds, in
 * order), their credentials and client-certificate checks and the server table, which an
 * adapter takes on the running listener (RunningListener.updateTls). A compiled check cannot be
 * compared, so a listener with one always hands it over: conservative, never stale.
 *
 * Both are built on every reload for every server (thousands), so server by server with pauses,
 * and a credential by its digest and key kind, never its PEM text (megabytes).
 */
async function keysOf(l: ListenerPlan | StreamListenerPlan, slices: Slices): Promise<Keys> {
  // Whether routes need trailers or forward upgrades, and whether the path goes out as sent
  // (exactTarget), can change the adapter, so they are part of the key.
  const http = l.kind === "http" || l.kind === "https";
  const upgrades = "upgrades" in l ? `|${l.upgrades}` : "";
  const raw = "exactTarget" in l && l.exactTarget ? "|raw" : "";
  // Limits are socket and server options: a change restarts the listener.
  const limits = JSON.stringify(l.limits) + ("bodyCeiling" in l ? `|${l.bodyCeiling}` : "");
  const base = `${l.kind}|${l.address}|${l.port}|${http && l.trailers}${upgrades}${raw}|${limits}`;
  if (l.kind === "http") return { key: base, tlsKey: "" };
  if (l.kind !== "https") {
    const replacer = (_k: string, v: unknown) => (typeof v === "function" ? `fn#${++uniq}` : v);
    return { key: `${base}|${JSON.stringify(l, replacer)}`, tlsKey: "" };
  }
  // Hashed as they are made, not joined: the joined strings ran to megabytes with 10,000 servers,
  // and joining them and comparing them with the running ones held the event loop for ~10 ms in
  // one piece (docs/architecture.md, "Reload").
  const tlsKey = createHash("sha256");
  const policies: TlsPolicy[] = [];
  const tls = tlsSpec(l, policies);
  // What the listener asks of the adapter: the same needs pick the same adapter, which then
  // takes any change of policies in place (RunningListener.updateTls).
  const needs = tlsNeeds(tls);
  for (const s of l.servers) {
    const p = policyOf(s);
    policies.push(p);
    addPolicyNeeds(needs, p);
    // The policy as tlsSpec hands it over; a SIMPLE server has no CA and no check.
    const check = s.mode === "SIMPLE" || s.clientCertCheck === undefined ? "" : `|fn#${++uniq}`;
    tlsKey.update(`\n${policyKey(s)}|${s.credential.digest}${check}`);
    await slices.pause();
  }
  tlsKey.update("\nhosts");
  const patterns = l.serverByHost.patterns();
  const servers = l.serverByHost.values();
  for (let i = 0; i < patterns.length; i++) {
    tlsKey.update(`\n${patterns[i]}=${servers[i]!.index}`);
    await slices.pause();
  }
  tlsKey.update(`\n${tls.defaultPolicy}`);
  return { key: `${base}|${JSON.stringify(needs)}`, tlsKey: tlsKey.digest("hex"), tls };
}

/**
 * A server's policy part of `tlsKey`, kept by its hosts array: a reload that reuses the Config, or
 * the routes.yaml section (docs/architecture.md, "Reload"), hands over the same array, and then
 * the JSON of 10,000 policies is not made again. The other fields are compared each time.
 */
const policyKeys = new WeakMap<readonly string[], PolicyShape & { json: string }>();

type PolicyShape = Pick<
  HttpsListenerPlan["servers"][number],
  "mode" | "minVersion" | "maxVersion" | "ciphers"
> & {
  keyKind: string;
};

function policyKey(s: HttpsListenerPlan["servers"][number]): string {
  const now: PolicyShape = {
    mode: s.mode,
    minVersion: s.minVersion,
    maxVersion: s.maxVersion,
    ciphers: s.ciphers,
    keyKind: s.credential.keyKind,
  };
  const was = policyKeys.get(s.hosts);
  if (
    was !== undefined &&
    was.mode === now.mode &&
    was.minVersion === now.minVersion &&
    was.maxVersion === now.maxVersion &&
    was.ciphers === now.ciphers &&
    was.keyKind === now.keyKind
  )
    return was.json;
  const { hosts, minVersion, maxVersion, ciphers } = s;
  const [requireClientCert, requestClientCert] = [s.mode === "MUTUAL", s.mode === "OPTIONAL_MUTUAL"];
  const shape = { hosts, requireClientCert, requestClientCert, minVersion, maxVersion, ciphers };
  const json = JSON.stringify({ ...shape, key: now.keyKind });
  policyKeys.set(s.hosts, { ...now, json });
  return json;
}

/** A server as the adapters see it. */
function policyOf(s: HttpsListenerPlan["servers"][number]): TlsPolicy {
  return {
    hosts: s.hosts,
    certPem: s.credential.certPem,
    keyPem: s.credential.keyPem,
    keyKind: s.credential.keyKind,
    caPem: s.mode === "SIMPLE" ? undefined : s.credential.caPem,
    requireClientCert: s.mode === "MUTUAL",
    requestClientCert: s.mode === "OPTIONAL_MUTUAL",
    // A SIMPLE server never asks for a certificate, so there is nothing to check.
    checkClientCert: s.mode === "SIMPLE" ? undefined : s.clientCertCheck,
    minVersion: s.minVersion,
    maxVersion: s.maxVersion,
    ciphers: s.ciphers,
  };
}

/**
 * The listener's TLS as the adapters see it, its `policies` filled by the caller. A handshake
 * without SNI matches only a server that lists "*", as in Istio (the table's catch-all); without
 * one such handshakes are refused, as is any name no server lists.
 */
function tlsSpec(l: HttpsListenerPlan, policies: TlsPolicy[]): TlsListenerSpec {
  const selectPolicy = (name: string | undefined) => l.serverByHost.match(name ?? "")?.index;
  return {
    policies,
    selectPolicy,
    defaultPolicy: selectPolicy(undefined),
    minVersion: "TLSv1.2",
    acmeTlsAlpn: l.acmeTlsAlpn,
  };
}
