// Certificates chosen by SNI inside one node:tls server, so that all the policies that share a
// handshake setup (SIMPLE, same versions and ciphers) share one server instead of one each: the
// handshake's SNICallback hands OpenSSL (BoringSSL on Bun, rustls on Deno) the SecureContext of
// the policy the name selects. SNICallback and setSecureContext on a node:http2 secure server
// were checked on Bun 1.4.5, Deno 2.9.6 and Node 20 (in process and listening); node:https on
// Bun never calls SNICallback (oven-sh/bun#14395), so only node:http2 servers get one. Deno
// calls SNICallback for a ClientHello without SNI too (Node and Bun do not): that name selects
// nothing here, and the server's own context (the default policy's) answers it.
//
// `update` swaps the table for the next handshakes without touching a socket: this is how a
// renewed certificate is served without refusing a connection (Node's documented way for a
// running server: tls.Server#setSecureContext).

import { createSecureContext, type SecureContext, type SecureContextOptions } from "node:tls";
import { normalizeServerName } from "../../tls/client-hello.ts";
import type { ServerOf } from "./connection-info.ts";
import type { TlsListenerSpec, TlsPolicy } from "./types.ts";

/** Handshake settings every member shares (versions, ciphers): they belong to the group. */
export type GroupOptions = Pick<SecureContextOptions, "minVersion" | "maxVersion" | "ciphers">;

export class SniContexts {
  private tls: TlsListenerSpec;
  /** Indices of the policies this server terminates, the server's default first. */
  private list: readonly number[];
  private isMember: Set<number>;
  /**
   * Policy index → its context, built at the name's first handshake: building one costs ~3.5 ms
   * on Node 20 and ~1.4 ms on Deno (2,000 took 7 s and 2.7 s here; 170 ms on Bun), so building
   * them all up front would make startup grow with the host count.
   */
  private contexts = new Map<number, SecureContext>();
  /**
   * The same contexts by certificate, then key, kept across updates for what did not change.
   * Keyed by the PEM strings themselves, which an unchanged file hands over as the same string
   * (util/file-reads.ts), whose hash the engine keeps: a key made by joining them was a new
   * string of kilobytes for each of 10,000 members on every update, hashed again.
   */
  private built = new Map<string, Map<string, SecureContext>>();

  constructor(
    members: readonly number[],
    tls: TlsListenerSpec,
    private readonly options: GroupOptions,
  ) {
    this.tls = tls;
    this.list = members;
    this.isMember = new Set(members);
  }

  get members(): readonly number[] {
    return this.list;
  }

  /** For createSecureServer: picks the context of the policy the name selects. */
  readonly SNICallback = (name: string | undefined, cb: (err: Error | null, ctx?: SecureContext) => void) => {
    const i = name ? this.tls.selectPolicy(normalizeServerName(name)) : undefined;
    try {
      cb(null, i !== undefined && this.isMember.has(i) ? this.contextOf(i) : undefined);
    } catch (err) {
      // Provisioning checked the key against the certificate; a failure here ends this handshake only.
      cb(err as Error);
    }
  };

  /** The policy a handshake's SNI selected (the default member without SNI), in the table now. */
  serverOf(servername: unknown): ServerOf {
    const i =
      typeof servername === "string" && servername
        ? this.tls.selectPolicy(normalizeServerName(servername))
        : undefined;
    const index = i !== undefined && this.isMember.has(i) ? i : this.list[0]!;
    return { index, policy: this.tls.policies[index]! };
  }

  /** The policy whose certificate the server itself holds (handshakes without SNI). */
  get defaultPolicy(): TlsPolicy {
    return this.tls.policies[this.list[0]!]!;
  }

  /**
   * Takes the table of `tls`, in which this server terminates `members` (policies added,
   * removed or moved, credentials renewed: apply() in gateway/start-gateway.ts). Contexts whose
   * certificate and key are still in use are kept; the others are built at their next handshake.
   */
  update(tls: TlsListenerSpec, members: readonly number[]): void {
    const built = new Map<string, Map<string, SecureContext>>();
    for (const i of members) {
      const p = tls.policies[i]!;
      const ctx = this.built.get(p.certPem)?.get(p.keyPem);
      if (ctx !== undefined) remember(built, p, ctx);
    }
    this.built = built;
    this.contexts = new Map();
    this.tls = tls;
    this.list = members;
    this.isMember = new Set(members);
  }

  private contextOf(i: number): SecureContext {
    let ctx = this.contexts.get(i);
    if (ctx !== undefined) return ctx;
    const p = this.tls.policies[i]!;
    ctx = this.built.get(p.certPem)?.get(p.keyPem);
    if (ctx === undefined) {
      ctx = createSecureContext({ cert: p.certPem, key: p.keyPem, ...this.options });
      remember(this.built, p, ctx);
    }
    this.contexts.set(i, ctx);
    return ctx;
  }
}

function remember(built: Map<string, Map<string, SecureContext>>, p: TlsPolicy, ctx: SecureContext): void {
  const byKey = built.get(p.certPem) ?? built.set(p.certPem, new Map()).get(p.certPem)!;
  byKey.set(p.keyPem, ctx);
}
