// An RFC 8555 client: directory, nonces, account, order, authorizations, challenges,
// finalization, certificate download, and ACME Renewal Information (RFC 9773). Only what
// Portico's lifecycle (manager.ts) needs; every request is a signed POST except the directory,
// newNonce and renewalInfo, which RFC 8555 §7.1 and RFC 9773 §4.1 leave unauthenticated.

import { AcmeError, AcmeProblemError } from "./errors.ts";
import { header, httpsRequest, retryAfterMs, type HttpAnswer } from "./http.ts";
import { externalAccountBinding, publicJwk, signJws, thumbprint, type Jwk } from "./jws.ts";

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  /** RFC 9773 §3: present when the CA offers renewal information. */
  renewalInfo?: string;
  meta?: { externalAccountRequired?: boolean; termsOfService?: string };
}

export interface Challenge {
  type: string;
  url: string;
  token: string;
  status: string;
  error?: unknown;
}

export interface Authorization {
  status: string;
  identifier: { type: string; value: string };
  challenges: Challenge[];
  wildcard?: boolean;
}

export interface Order {
  url: string;
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: unknown;
}

/** RFC 9773 §4.2. */
export interface RenewalInfo {
  start: Date;
  end: Date;
  /** When to ask again (the CA's Retry-After). */
  retryAfterMs?: number;
  /** A page where the CA says why (e.g. a revocation); for the operator. */
  explanationUrl?: string;
}

export interface AccountOptions {
  email?: string;
  eab?: { kid: string; hmacKey: string };
}

/** badNonce is retried (RFC 8555 §6.5: "the client SHOULD retry"), this many times. */
const NONCE_RETRIES = 5;

export class AcmeClient {
  private directory?: Directory;
  private nonces: string[] = [];
  private kid?: string;
  private jwk?: Jwk;

  constructor(
    readonly directoryUrl: string,
    private readonly accountKey: CryptoKeyPair,
    /** PEM: the CA bundle that the directory's HTTPS certificate chains to; default the system's. */
    private readonly ca?: string,
  ) {}

  async getDirectory(): Promise<Directory> {
    if (this.directory) return this.directory;
    const a = await httpsRequest(this.directoryUrl, { method: "GET", ca: this.ca });
    if (a.status !== 200) throw problem(`GET directory ${this.directoryUrl}`, a);
    this.directory = JSON.parse(a.body) as Directory;
    return this.directory;
  }

  /** The key authorization of a challenge token (RFC 8555 §8.1). */
  async keyAuthorization(token: string): Promise<string> {
    this.jwk ??= await publicJwk(this.accountKey.publicKey);
    return `${token}.${await thumbprint(this.jwk)}`;
  }

  /**
   * newAccount, or finds the existing one (`kid`: the URL stored from before). Returns the account
   * URL to store. An existing account is looked up with onlyReturnExisting first only when no
   * URL is known.
   */
  async account(opts: AccountOptions, known?: string): Promise<string> {
    if (known) {
      this.kid = known;
      return known;
    }
    const dir = await this.getDirectory();
    this.jwk ??= await publicJwk(this.accountKey.publicKey);
    const payload: Record<string, unknown> = { termsOfServiceAgreed: true };
    if (opts.email) payload.contact = [`mailto:${opts.email}`];
    if (opts.eab)
      payload.externalAccountBinding = await externalAccountBinding(this.jwk, opts.eab, dir.newAccount);
    else if (dir.meta?.externalAccountRequired)
      throw new AcmeError(
        `the CA at ${this.directoryUrl} requires External Account Binding: add eab: { kid, hmacKey }`,
      );
    const a = await this.post(dir.newAccount, payload, { jwk: this.jwk });
    const url = header(a, "location");
    if (!url) throw new AcmeError(`newAccount at ${dir.newAccount} answered without a Location`);
    this.kid = url;
    return url;
  }

  async newOrder(names: string[], replaces?: string): Promise<Order> {
    const dir = await this.getDirectory();
    const payload: Record<string, unknown> = { identifiers: names.map((value) => ({ type: "dns", value })) };
    if (replaces) payload.replaces = replaces;
    const a = await this.post(dir.newOrder, payload);
    const url = header(a, "location");
    if (!url) throw new AcmeError(`newOrder at ${dir.newOrder} answered without a Location`);
    return { url, ...(JSON.parse(a.body) as Omit<Order, "url">) };
  }

  async getOrder(url: string): Promise<Order> {
    const a = await this.post(url, undefined);
    return { url, ...(JSON.parse(a.body) as Omit<Order, "url">) };
  }

  async getAuthorization(url: string): Promise<{ authz: Authorization; retryAfterMs?: number }> {
    const a = await this.post(url, undefined);
    return { authz: JSON.parse(a.body) as Authorization, retryAfterMs: retryAfterMs(a) };
  }

  /** Tells the CA the challenge is ready to be validated (RFC 8555 §7.5.1: an empty object). */
  async respond(challenge: Challenge): Promise<void> {
    await this.post(challenge.url, {});
  }

  async finalize(order: Order, csrDer: Uint8Array): Promise<Order> {
    const a = await this.post(order.finalize, { csr: Buffer.from(csrDer).toString("base64url") });
    return { url: order.url, ...(JSON.parse(a.body) as Omit<Order, "url">) };
  }

  /** The PEM chain, leaf first (RFC 8555 §7.4.2). */
  async certificate(url: string): Promise<string> {
    const a = await this.post(url, undefined, undefined, "application/pem-certificate-chain");
    return a.body;
  }

  /** RFC 9773 §4.1: GET renewalInfo/<certID>; undefined when the CA offers none. */
  async renewalInfo(certId: string): Promise<RenewalInfo | undefined> {
    const dir = await this.getDirectory();
    if (!dir.renewalInfo) return undefined;
    const url = `${dir.renewalInfo.replace(/\/$/, "")}/${certId}`;
    const a = await httpsRequest(url, { method: "GET", ca: this.ca });
    if (a.status !== 200) throw problem(`GET ${url}`, a);
    const doc = JSON.parse(a.body) as {
      suggestedWindow: { start: string; end: string };
      explanationURL?: string;
    };
    const w = doc.suggestedWindow;
    const start = new Date(w.start);
    const end = new Date(w.end);
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end < start)
      throw new AcmeError(`GET ${url}: no valid suggestedWindow in ${a.body.slice(0, 200)}`);
    return { start, end, retryAfterMs: retryAfterMs(a), explanationUrl: doc.explanationURL };
  }

  private async nonce(): Promise<string> {
    const n = this.nonces.pop();
    if (n) return n;
    const dir = await this.getDirectory();
    const a = await httpsRequest(dir.newNonce, { method: "HEAD", ca: this.ca });
    const fresh = header(a, "replay-nonce");
    if (!fresh) throw problem(`HEAD ${dir.newNonce} gave no Replay-Nonce`, a);
    return fresh;
  }

  private async post(
    url: string,
    payload: unknown,
    key: { jwk: Jwk } | undefined = undefined,
    accept?: string,
  ): Promise<HttpAnswer> {
    for (let attempt = 0; ; attempt++) {
      const who = key ?? { kid: this.kid };
      if (!key && !this.kid) throw new AcmeError("no ACME account yet");
      const body = await signJws(
        this.accountKey.privateKey,
        { ...who, nonce: await this.nonce(), url },
        payload,
      );
      const headers: Record<string, string> = { "content-type": "application/jose+json" };
      if (accept) headers.accept = accept;
      const a = await httpsRequest(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        ca: this.ca,
      });
      const next = header(a, "replay-nonce");
      if (next) this.nonces.push(next);
      if (a.status < 400) return a;
      const err = problem(`POST ${url}`, a);
      if (err instanceof AcmeProblemError && err.type === "badNonce" && attempt < NONCE_RETRIES) continue;
      throw err;
    }
  }
}

function problem(what: string, a: HttpAnswer): AcmeError {
  const text = a.body.trim();
  let detail = text.slice(0, 300);
  try {
    const doc = JSON.parse(text) as { type?: string; detail?: string };
    detail = [doc.type, doc.detail].filter(Boolean).join(": ");
  } catch {}
  return new AcmeProblemError(`${what}: ${a.status} ${detail}`, text, a.status, retryAfterMs(a));
}
