// The node:http2 secure servers behind an SNI front (node-http2, node-http2-pipe, bun-sni): one
// per group of policies that can share a handshake setup, not one per policy, so that a
// listener with thousands of SIMPLE hosts holds a handful of servers (and, piped, a handful of
// loopback ports) whatever its host count.
//
// Which policies share: SIMPLE policies with the same protocol versions and cipher suites,
// their certificates chosen by SNI (sni-contexts.ts). A policy that asks for a client
// certificate keeps a server of its own: requestCert and rejectUnauthorized belong to the
// server, not to the context SNICallback returns, and only a server of its own lets a MUTUAL
// host and a SIMPLE host share a port exactly (docs/runtimes.md, "node:tls, node:https and
// node:http2").

import type { Http2SecureServer } from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { ConnectionTracker } from "./connections.ts";
import { contextOptions, groupOptions, retiring, secureServer } from "./node-http.ts";
import { policyNeeds } from "./needs.ts";
import { SniContexts } from "./sni-contexts.ts";
import { keyKind } from "../../tls/key-kind.ts";
import type { HttpListenerSpec, TlsListenerSpec, TlsPolicy } from "./types.ts";

interface Group {
  server: Http2SecureServer;
  /** Shared servers only: their grouping key, and whether they were made with an SNICallback. */
  sni?: SniContexts;
  shared?: string;
  callback?: boolean;
  /** Own servers only: the policy's index, and the policy the server was made for. */
  own?: number;
  policy?: TlsPolicy;
}

/** What an update changed: `fresh` servers must be made reachable before `commit()`. */
export interface Http2Update {
  fresh: Http2SecureServer[];
  retired: Http2SecureServer[];
  commit(): void;
}

export class Http2Servers {
  /** Policy index → the server that terminates it; read per connection, replaced whole. */
  byPolicy: (Http2SecureServer | undefined)[] = [];
  private groups: Group[] = [];
  private include: (policy: TlsPolicy) => boolean = () => true;

  constructor(
    private readonly spec: HttpListenerSpec,
    private readonly tracker: ConnectionTracker,
    /** The client, when connections arrive piped over loopback. */
    private readonly remoteAddress?: (socket: TLSSocket) => string | undefined,
    /** The socket the client's own bytes arrive on, for the traffic budget (h2-guard.ts). */
    private readonly clientSocket?: (socket: TLSSocket) => Socket | undefined,
  ) {}

  /** Builds the servers of the policies `include` picks (now and at every update); returns them. */
  start(tls: TlsListenerSpec, include: (policy: TlsPolicy) => boolean): Http2SecureServer[] {
    this.include = include;
    for (const [key, list] of membersOf(tls, include)) {
      this.groups.push(key.startsWith("own") ? this.own(tls, list[0]!) : this.shared(tls, key, list));
    }
    this.byPolicy = this.index();
    return this.groups.map((g) => g.server);
  }

  /**
   * A new table (policies added, removed or moved, credentials renewed). A shared server whose
   * group is still there takes its members' certificates in place, for its next handshakes
   * (setSecureContext when its own, the default member's, changed); a group that is new gets a
   * new server, one that is gone retires, as does a shared server made for one member (it has no
   * SNICallback) that now has several. A server of its own (client certificates: its CA and
   * compiled check come with the policy) is kept when its policy reads the same, else replaced.
   * New servers take connections from `commit()` on; retired ones keep those they have, each
   * ending after its next response (`retiring`), so its client handshakes again under the new
   * policy.
   */
  update(tls: TlsListenerSpec): Http2Update {
    const fresh: Http2SecureServer[] = [];
    const retired: Http2SecureServer[] = [];
    const kept = new Map<string, Group>();
    // Own servers by their hosts (a host belongs to one server of a listener).
    const owned = new Map<string, Group>();
    for (const g of this.groups) {
      if (g.shared !== undefined) kept.set(g.shared, g);
      else owned.set(g.policy!.hosts.join(" "), g);
    }
    const groups: Group[] = [];
    const updates: (() => void)[] = [];
    for (const [key, list] of membersOf(tls, this.include)) {
      if (key.startsWith("own")) {
        const p = tls.policies[list[0]!]!;
        const hosts = p.hosts.join(" ");
        const g = owned.get(hosts);
        // The same policy (a compiled check compares by identity: a reload compiles a new one)
        // keeps its server; its connections name the policy it was made for (connection-info.ts).
        if (g !== undefined && samePolicy(g.policy!, p)) {
          owned.delete(hosts);
          groups.push({ ...g, own: list[0]! });
          continue;
        }
      }
      const g = kept.get(key);
      if (g !== undefined && (g.callback || list.length === 1)) {
        kept.delete(key);
        const before = g.sni!.defaultPolicy;
        const after = tls.policies[list[0]!]!;
        // Applied at commit, with the front's table: until then the old table is the server's.
        updates.push(() => {
          g.sni!.update(tls, list);
          if (before.certPem !== after.certPem || before.keyPem !== after.keyPem)
            g.server.setSecureContext(contextOptions(this.spec, after));
        });
        groups.push(g);
        continue;
      }
      const next = key.startsWith("own") ? this.own(tls, list[0]!) : this.shared(tls, key, list);
      fresh.push(next.server);
      groups.push(next);
    }
    for (const g of [...kept.values(), ...owned.values()]) retired.push(g.server);
    return {
      fresh,
      retired,
      commit: () => {
        for (const s of retired) retiring.add(s);
        for (const u of updates) u();
        this.groups = groups;
        this.byPolicy = this.index();
      },
    };
  }

  private shared(tls: TlsListenerSpec, key: string, list: number[]): Group {
    const sni = new SniContexts(list, tls, groupOptions(this.spec, tls.policies[list[0]!]!));
    const server = secureServer(
      this.spec,
      this.tracker,
      sni.defaultPolicy,
      list[0]!,
      this.remoteAddress,
      sni,
      this.clientSocket,
    );
    return { server, sni, shared: key, callback: list.length > 1 };
  }

  private own(tls: TlsListenerSpec, i: number): Group {
    const server = secureServer(
      this.spec,
      this.tracker,
      tls.policies[i]!,
      i,
      this.remoteAddress,
      undefined,
      this.clientSocket,
    );
    return { server, own: i, policy: tls.policies[i]! };
  }

  private index(): (Http2SecureServer | undefined)[] {
    const byPolicy: (Http2SecureServer | undefined)[] = [];
    for (const g of this.groups) {
      if (g.own !== undefined) byPolicy[g.own] = g.server;
      else for (const i of g.sni!.members) byPolicy[i] = g.server;
    }
    return byPolicy;
  }
}

/**
 * The policies `include` picks, grouped: SIMPLE ones by versions, ciphers and key kind ("shared
 * ..."), each of the others alone ("own i"); the default policy first in its group.
 */
function membersOf(tls: TlsListenerSpec, include: (policy: TlsPolicy) => boolean): Map<string, number[]> {
  const members = new Map<string, number[]>();
  for (const [i, p] of tls.policies.entries()) {
    if (!include(p)) continue;
    // One key kind per shared server: Node 20 keeps serving an EC server's own certificate
    // when SNICallback picks an RSA one (tls/key-kind.ts).
    const kind = p.keyKind ?? keyKind(p.keyPem);
    const shared = `shared ${p.minVersion} ${p.maxVersion} ${p.ciphers} ${kind}`;
    const key = ownServer(p) ? `own ${i}` : shared;
    const list = members.get(key) ?? members.set(key, []).get(key)!;
    // The default policy's certificate is the server's own: it answers handshakes without SNI.
    if (i === tls.defaultPolicy) list.unshift(i);
    else list.push(i);
  }
  return members;
}

/** Everything a server of its own is made from. */
function samePolicy(a: TlsPolicy, b: TlsPolicy): boolean {
  return (
    a.certPem === b.certPem &&
    a.keyPem === b.keyPem &&
    a.caPem === b.caPem &&
    a.requireClientCert === b.requireClientCert &&
    a.requestClientCert === b.requestClientCert &&
    a.checkClientCert === b.checkClientCert &&
    a.minVersion === b.minVersion &&
    a.maxVersion === b.maxVersion &&
    a.ciphers === b.ciphers &&
    a.hosts.length === b.hosts.length &&
    a.hosts.every((h, i) => h === b.hosts[i])
  );
}

/** A policy that asks for a client certificate, or checks one, needs a server of its own. */
function ownServer(p: TlsPolicy): boolean {
  return policyNeeds(p).clientAuth;
}
