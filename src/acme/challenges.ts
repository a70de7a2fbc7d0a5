// Answers the CA's validation requests while an order is pending:
// - http-01 (RFC 8555 §8.3): GET /.well-known/acme-challenge/<token> on a plain HTTP listener,
//   answered before redirects and routes (http/app.ts asks `httpAnswer`). Tokens are also
//   written to the data directory, so an instance sharing it answers for another one's order.
// - tls-alpn-01 (RFC 8737): a ClientHello offering ALPN "acme-tls/1" for a pending name is piped
//   by the SNI front to a loopback node:tls server that presents the validation certificate and
//   selects acme-tls/1 (one small server per name being validated, listeners/_shared/
//   acme-alpn-server.ts; gone when it is done).

import type { AcmeStorage } from "./storage.ts";

/** A loopback TLS server presenting a validation certificate with ALPN acme-tls/1. */
export interface AlpnServer {
  port: number;
  close(): Promise<void>;
}

/** Starts one (runtime-specific: src/listeners/_shared/acme-alpn-server.ts). */
export type ListenAlpn = (certPem: string, keyPem: string) => Promise<AlpnServer>;

export const HTTP01_PREFIX = "/.well-known/acme-challenge/";

export class ChallengeResponder {
  private readonly tokens = new Map<string, string>();
  private readonly alpn = new Map<string, AlpnServer>();

  constructor(
    private readonly listenAlpn?: ListenAlpn,
    private readonly storage?: AcmeStorage,
  ) {}

  /** The key authorization for an http-01 request path, or undefined (then 404). */
  async httpAnswer(path: string): Promise<string | undefined> {
    const token = path.slice(HTTP01_PREFIX.length);
    if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
    return this.tokens.get(token) ?? (await this.storage?.readHttpToken(token));
  }

  async addHttpToken(token: string, keyAuthorization: string): Promise<void> {
    this.tokens.set(token, keyAuthorization);
    await this.storage?.writeHttpToken(token, keyAuthorization);
  }

  async removeHttpToken(token: string): Promise<void> {
    this.tokens.delete(token);
    await this.storage?.removeHttpToken(token);
  }

  /** The loopback port answering tls-alpn-01 for `name`, if it is being validated. */
  tlsAlpnPort(name: string | undefined): number | undefined {
    return name === undefined ? undefined : this.alpn.get(name.toLowerCase())?.port;
  }

  async addTlsAlpn(name: string, cert: { certPem: string; keyPem: string }): Promise<void> {
    await this.removeTlsAlpn(name);
    if (!this.listenAlpn) throw new Error("tls-alpn-01 cannot be answered here");
    this.alpn.set(name.toLowerCase(), await this.listenAlpn(cert.certPem, cert.keyPem));
  }

  async removeTlsAlpn(name: string): Promise<void> {
    const old = this.alpn.get(name.toLowerCase());
    if (!old) return;
    this.alpn.delete(name.toLowerCase());
    await old.close();
  }

  async close(): Promise<void> {
    await Promise.all([...this.alpn.keys()].map((n) => this.removeTlsAlpn(n)));
  }
}
