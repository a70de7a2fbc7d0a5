// The lifecycle of ACME credentials: a stored certificate is used at startup without asking the
// CA; a missing one is ordered at once; a held one is renewed at the CA's ARI window (RFC 9773)
// when the directory offers renewalInfo, else at two thirds of its lifetime (Let's Encrypt's
// advice, and what Caddy does); failures back off, never sooner than the CA's Retry-After.
// Each credential runs on its own, so one the CA refuses never holds back the others.
// A new certificate is announced through `onChange`; the CLI then reloads, which provisions it
// like any other credential and hands it to the listeners (gateway apply). So is an expiry: a
// certificate whose renewals kept failing stops being served at its notAfter, without a reload.
// Inside one credential, names whose authorization fails are ordered without (the others get
// their certificate) and retried on the backoff schedule, the way certbot and Caddy behave.

import { later, type Later } from "../util/timers.ts";
import type { KeyKind } from "../certs/generate.ts";
import type { LeafFacts } from "./certificates.ts";
import type { ChallengeResponder } from "./challenges.ts";
import { AcmeClient, type Authorization, type Order } from "./client.ts";
import { AcmeError, AcmeProblemError } from "./errors.ts";
import { newAccountKey } from "./jws.ts";
import type { AcmeStorage, StoredCertificate } from "./storage.ts";

/**
 * Keys, CSRs and certificate facts (the X.509 stack, certs/x509-loader.ts): loaded when a
 * certificate is first adopted or ordered, not by every startup.
 */
const certificates = () => import("./certificates.ts");

export type ChallengeType = "http-01" | "tls-alpn-01";
export const CHALLENGE_TYPES: ChallengeType[] = ["http-01", "tls-alpn-01"];

/** One ACME credential as provisioning hands it over: its names are the hosts that use it. */
export interface AcmeCredentialSpec {
  name: string;
  directory: string;
  email?: string;
  /** PEM text of the bundle the directory's HTTPS is verified with. */
  caPem?: string;
  eab?: { kid: string; hmacKey: string };
  /** The order of preference; undefined: chosen from the listeners that exist. */
  challenges?: ChallengeType[];
  keyType: KeyKind;
  /** Renew this long before notAfter instead of at 2/3 of the lifetime (and without ARI). */
  renewBeforeMs?: number;
  names: string[];
}

export interface AcmeStatus {
  credential: string;
  names: string[];
  directory: string;
  state: "valid" | "pending" | "renewing" | "waiting-for-lock";
  issuer?: string;
  notBefore?: string;
  notAfter?: string;
  nextRenewal?: string;
  challenge?: string;
  /** The CA's problem document verbatim, or the error's message. */
  lastError?: string;
  lastErrorAt?: string;
  nextAttempt?: string;
  certPath?: string;
  /** Names whose validation failed: not in the certificate, refused at the handshake until retried. */
  pendingNames?: { name: string; lastError: string; lastErrorAt: string }[];
  /** RFC 9773: the CA's last suggested window, and when it is asked again. */
  renewalWindow?: { start: string; end: string };
  nextRenewalInfo?: string;
}

export interface ManagerDeps {
  storage: AcmeStorage;
  responder: ChallengeResponder;
  /** Which challenge kinds Portico can answer now (listeners that exist), in order of preference. */
  available(): ChallengeType[];
  onChange(credential: string): void;
  /** Why this runtime cannot answer tls-alpn-01, when it cannot (said in the error). */
  alpnUnsupported?: string;
  /** `fields` go into --log-format json lines (the CA's problem document among them). */
  log: {
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string, fields?: Record<string, unknown>): void;
  };
  now?: () => number;
}

/** After a failure, the n-th retry waits this long at least (and at least the CA's Retry-After). */
export const BACKOFF_MS = [
  60_000,
  120_000,
  300_000,
  600_000,
  1_800_000,
  3_600_000,
  3 * 3_600_000,
  6 * 3_600_000,
];
/** How long to wait for a CA's validation or issuance before the attempt fails. */
const POLL_LIMIT_MS = 120_000;
/** Another instance holds the lock: look at the storage again this often. */
const LOCK_POLL_MS = 1_000;
/** setTimeout's limit is 24.8 days; a later renewal is looked at again after a day. */
const MAX_TIMER_MS = 86_400_000;
/**
 * RFC 9773 §4.3: renewalInfo is polled while a certificate is held, as often as the CA's
 * Retry-After says, clamped (the RFC suggests at least daily; faster than hourly only loads the
 * CA); without Retry-After, every 6 hours (the RFC's example, and certbot's/lego's default).
 */
export const ARI_POLL_MS = { min: 3_600_000, max: 86_400_000, default: 6 * 3_600_000 };

/** When to ask renewalInfo again, from the CA's Retry-After (RFC 9773 §4.3). */
export function ariPollDelayMs(retryAfterMs: number | undefined): number {
  return Math.min(Math.max(retryAfterMs ?? ARI_POLL_MS.default, ARI_POLL_MS.min), ARI_POLL_MS.max);
}

/**
 * RFC 9773 §4.2: a uniformly random moment inside the suggested window; `now` when the window's
 * end has passed (the CA wants the certificate replaced at once, e.g. after a revocation).
 */
export function ariRenewalTime(window: { start: number; end: number }, now: number, random = Math.random()) {
  if (window.end <= now) return now;
  return Math.max(now, window.start + random * (window.end - window.start));
}

interface Entry {
  spec: AcmeCredentialSpec;
  key: string;
  cert?: StoredCertificate;
  facts?: LeafFacts;
  state: AcmeStatus["state"];
  lastError?: string;
  lastErrorAt?: number;
  attempts: number;
  nextAt?: number;
  timer?: Later;
  running: boolean;
  challenge?: string;
  /** Names whose last validation failed (not in `cert`), with the CA's problem. */
  failed: Map<string, { problem: string; at: number }>;
  /** After a failure, no attempt before this (backoff, Retry-After). */
  retryAt?: number;
  /** The CA's renewal window (RFC 9773) and the moment chosen inside it. */
  ari?: { start: number; end: number; at: number };
  ariTimer?: Later;
  ariNextAt?: number;
  expiryTimer?: Later;
}

export class AcmeManager {
  private readonly entries = new Map<string, Entry>();
  private readonly clients = new Map<string, Promise<AcmeClient>>();
  private started = false;
  private closed = false;

  constructor(private readonly deps: ManagerDeps) {}

  /** The challenge answers the listeners give (provisioning puts it on their plans). */
  get responder(): ChallengeResponder {
    return this.deps.responder;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /**
   * Takes the ACME credentials of a (re)loaded configuration: a new or changed one (other names,
   * CA or key type) reads its stored certificate; one no longer configured is forgotten.
   */
  async sync(specs: AcmeCredentialSpec[]): Promise<void> {
    const wanted = new Set(specs.map((s) => s.name));
    for (const [name, e] of this.entries)
      if (!wanted.has(name)) {
        stopTimers(e);
        this.entries.delete(name);
      }
    for (const spec of specs) {
      const key = `${spec.directory}|${spec.keyType}|${[...spec.names].sort().join(",")}`;
      const old = this.entries.get(spec.name);
      if (old && old.key === key) {
        old.spec = spec;
        continue;
      }
      if (old) stopTimers(old);
      const e: Entry = { spec, key, state: "pending", attempts: 0, running: false, failed: new Map() };
      if (await this.adoptStored(e))
        this.deps.log.info(
          `acme ${spec.name}: using the stored certificate for ${e.cert!.meta.names.join(", ")} ` +
            `(valid until ${e.facts!.notAfter.toISOString()})`,
        );
      this.entries.set(spec.name, e);
      if (this.started) this.schedule(e);
    }
  }

  /** The certificate and key of a credential, when it has a valid one (else its names are pending). */
  material(name: string): { certPem: string; keyPem: string; certPath: string } | undefined {
    const e = this.entries.get(name);
    if (!e?.cert) return undefined;
    // Renewal kept failing until expiry: the names are pending again (refused like an unknown
    // SNI) rather than served expired, and the configuration still loads.
    if (e.facts && e.facts.notAfter.getTime() <= this.now()) return undefined;
    return {
      certPem: e.cert.certPem,
      keyPem: e.cert.keyPem,
      certPath: `${this.deps.storage.certDir(e.spec.directory, e.spec.names)}/tls.crt`,
    };
  }

  /** Starts ordering and renewal timers (after the listeners are up, so challenges can be answered). */
  start(): void {
    this.started = true;
    for (const e of this.entries.values()) this.schedule(e);
  }

  /** Renews a credential now (admin and tests), whatever its schedule. */
  renewNow(name: string): boolean {
    const e = this.entries.get(name);
    if (!e) return false;
    this.arm(e, 0);
    return true;
  }

  status(): AcmeStatus[] {
    return [...this.entries.values()].map((e) => ({
      credential: e.spec.name,
      names: e.spec.names,
      directory: e.spec.directory,
      state: e.state,
      issuer: e.facts?.issuer,
      notBefore: e.facts?.notBefore.toISOString(),
      notAfter: e.facts?.notAfter.toISOString(),
      nextRenewal: e.cert && e.nextAt !== undefined ? new Date(e.nextAt).toISOString() : undefined,
      challenge: e.challenge ?? e.cert?.meta.challenge,
      lastError: e.lastError,
      lastErrorAt: e.lastErrorAt === undefined ? undefined : new Date(e.lastErrorAt).toISOString(),
      nextAttempt:
        (!e.cert || e.failed.size > 0) && e.nextAt !== undefined
          ? new Date(e.nextAt).toISOString()
          : undefined,
      certPath: e.cert ? `${this.deps.storage.certDir(e.spec.directory, e.spec.names)}/tls.crt` : undefined,
      pendingNames:
        e.failed.size > 0
          ? [...e.failed].map(([name, f]) => ({
              name,
              lastError: f.problem,
              lastErrorAt: new Date(f.at).toISOString(),
            }))
          : undefined,
      renewalWindow: e.ari && {
        start: new Date(e.ari.start).toISOString(),
        end: new Date(e.ari.end).toISOString(),
      },
      nextRenewalInfo: e.ariNextAt === undefined ? undefined : new Date(e.ariNextAt).toISOString(),
    }));
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) stopTimers(e);
    void this.deps.responder.close();
  }

  /** A stored, unexpired certificate for exactly these names is used as it is. */
  private async adoptStored(e: Entry): Promise<boolean> {
    const stored = await this.deps.storage
      .readCertificate(e.spec.directory, e.spec.names)
      .catch(() => undefined);
    if (!stored) return false;
    let facts: LeafFacts;
    try {
      facts = (await certificates()).leafFacts(stored.certPem);
    } catch {
      return false;
    }
    if (facts.notAfter.getTime() <= this.now()) return false;
    if (e.cert && e.cert.meta.obtainedAt === stored.meta.obtainedAt) return false;
    this.held(e, stored, facts);
    return true;
  }

  /** A certificate is held: the names it lacks wait with their reasons; its expiry is watched. */
  private held(e: Entry, cert: StoredCertificate, facts: LeafFacts): void {
    if (e.cert?.certPem !== cert.certPem) e.ari = undefined;
    e.cert = cert;
    e.facts = facts;
    e.state = "valid";
    const covered = new Set(cert.meta.names);
    for (const name of [...e.failed.keys()]) if (covered.has(name)) e.failed.delete(name);
    for (const p of cert.meta.pending ?? [])
      if (!covered.has(p.name) && !e.failed.has(p.name))
        e.failed.set(p.name, { problem: p.problem, at: Date.parse(p.at) });
    this.watchExpiry(e);
  }

  /**
   * At notAfter the certificate stops being served (material() returns nothing): the manager
   * announces it like a new certificate, so the reload that follows makes its names pending at
   * once rather than at whatever reload comes next.
   */
  private watchExpiry(e: Entry): void {
    e.expiryTimer?.cancel();
    if (this.closed || !e.facts) return;
    const at = e.facts.notAfter.getTime();
    const fire = () => {
      if (this.closed || this.entries.get(e.spec.name) !== e || e.facts?.notAfter.getTime() !== at) return;
      const left = at - this.now();
      if (left > 0) return void (e.expiryTimer = later(Math.min(left, MAX_TIMER_MS), fire));
      e.state = "pending";
      this.deps.log.error(
        `acme ${e.spec.name}: the certificate for ${e.cert!.meta.names.join(", ")} expired at ` +
          `${new Date(at).toISOString()} without a renewal: the names are pending until one succeeds`,
        { credential: e.spec.name, names: e.cert!.meta.names, problem: e.lastError },
      );
      this.deps.onChange(e.spec.name);
    };
    e.expiryTimer = later(Math.min(Math.max(0, at - this.now()), MAX_TIMER_MS), fire);
  }

  /**
   * The next attempt: at once without a certificate or with names still missing from it, else
   * at the renewal time; never before the backoff of the last failure. A held certificate's
   * renewalInfo is polled too (RFC 9773 §4.3), so a CA asking for early renewal is heard.
   */
  private schedule(e: Entry): void {
    const now = this.now();
    const target = !e.cert || e.failed.size > 0 ? now : this.renewAt(e);
    this.arm(e, Math.max(0, target - now, (e.retryAt ?? 0) - now));
    if (e.cert && e.spec.renewBeforeMs === undefined && e.ariTimer === undefined) this.armAri(e, 0);
  }

  private armAri(e: Entry, delay: number): void {
    e.ariTimer?.cancel();
    if (this.closed) return;
    e.ariNextAt = this.now() + delay;
    e.ariTimer = later(Math.min(delay, MAX_TIMER_MS), () => void this.pollAri(e));
  }

  /**
   * RFC 9773 §4.2-4.3: asks the CA for its window; a renewal time is chosen inside it (at once
   * when its end has passed), and kept until the CA changes the window. A directory without
   * renewalInfo ends the polling (the 2/3 schedule stays); an error keeps the last schedule
   * and asks again later.
   */
  private async pollAri(e: Entry): Promise<void> {
    if (this.closed || this.entries.get(e.spec.name) !== e) return;
    const certId = e.facts?.certId;
    if (!e.cert || !certId || e.spec.renewBeforeMs !== undefined) {
      e.ariTimer = undefined;
      e.ariNextAt = undefined;
      return;
    }
    let retryAfter: number | undefined;
    try {
      const info = await (await this.client(e.spec)).renewalInfo(certId);
      if (this.entries.get(e.spec.name) !== e || e.facts?.certId !== certId) return;
      if (!info) {
        e.ariTimer = undefined;
        e.ariNextAt = undefined;
        return;
      }
      retryAfter = info.retryAfterMs;
      const window = { start: info.start.getTime(), end: info.end.getTime() };
      if (e.ari?.start !== window.start || e.ari.end !== window.end) {
        e.ari = { ...window, at: ariRenewalTime(window, this.now()) };
        this.deps.log.info(
          `acme ${e.spec.name}: the CA's renewal window is ${info.start.toISOString()} to ` +
            `${info.end.toISOString()}; renewing at ${new Date(e.ari.at).toISOString()}` +
            (info.explanationUrl ? ` (the CA explains: ${info.explanationUrl})` : ""),
        );
        if (!e.running) this.schedule(e);
      }
    } catch (err) {
      this.deps.log.warn(`acme ${e.spec.name}: renewal information unavailable: ${(err as Error).message}`);
    }
    this.armAri(e, ariPollDelayMs(retryAfter));
  }

  /**
   * 2/3 of the lifetime, or `renewBefore` ahead of expiry; but never in the first tenth of the
   * lifetime, so a renewBefore longer than the CA's lifetime (short-lived certificates) cannot
   * turn into ordering again and again (the CA's duplicate-certificate limits).
   */
  private renewAt(e: Entry): number {
    const f = e.facts!;
    const start = f.notBefore.getTime();
    const life = f.notAfter.getTime() - start;
    const before = e.spec.renewBeforeMs;
    if (before === undefined) return e.ari?.at ?? start + (life * 2) / 3;
    return Math.max(f.notAfter.getTime() - before, start + life / 10);
  }

  private arm(e: Entry, delay: number): void {
    e.timer?.cancel();
    if (this.closed) return;
    e.nextAt = this.now() + delay;
    e.timer = later(Math.min(delay, MAX_TIMER_MS), () => void this.due(e));
  }

  private async due(e: Entry): Promise<void> {
    if (this.closed || this.entries.get(e.spec.name) !== e || e.running) return;
    if (e.cert && e.nextAt! > this.now()) return this.arm(e, e.nextAt! - this.now()); // a long wait, re-armed
    e.running = true;
    try {
      await this.obtain(e);
    } finally {
      e.running = false;
    }
  }

  private async obtain(e: Entry): Promise<void> {
    const { storage, log } = this.deps;
    const { spec } = e;
    const release = await storage.tryLock(spec.directory, spec.names);
    if (!release) {
      // Another instance on this data directory is ordering: its result lands in the storage.
      if (e.state !== "waiting-for-lock" && e.state !== "renewing")
        this.deps.log.info(
          `acme ${spec.name}: another instance is ordering ${spec.names.join(", ")} (a lock in ` +
            `${storage.root}); waiting for its result`,
        );
      e.state = e.cert ? "renewing" : "waiting-for-lock";
      if (await this.adoptStored(e)) return this.fromShared(e);
      return this.arm(e, LOCK_POLL_MS);
    }
    try {
      // It may have finished between our last look and the lock.
      const prior = e.cert?.meta.obtainedAt;
      if ((await this.adoptStored(e)) && prior !== e.cert?.meta.obtainedAt && this.renewAt(e) > this.now())
        return this.fromShared(e);
      e.state = e.cert ? "renewing" : "pending";
      log.info(
        `acme ${spec.name}: ordering a certificate for ${spec.names.join(", ")} from ${spec.directory}`,
      );
      const { cert, failed } = await this.order(e);
      const now = this.now();
      for (const [name, err] of failed) e.failed.set(name, { problem: problemOf(err), at: now });
      if (cert) {
        cert.meta.pending = [...e.failed]
          .filter(([name]) => !cert.meta.names.includes(name))
          .map(([name, f]) => ({ name, problem: f.problem, at: new Date(f.at).toISOString() }));
        await storage.writeCertificate(spec.directory, cert, spec.names);
        this.held(e, cert, (await certificates()).leafFacts(cert.certPem));
      }
      if (failed.size === 0) {
        e.lastError = undefined;
        e.lastErrorAt = undefined;
        e.attempts = 0;
        e.retryAt = undefined;
      } else {
        // Some names failed their validation: the others are served; the next attempt (after
        // the backoff) orders all the names again, so one success covers them all.
        const wait = this.backoff(e, [...failed.values()]);
        e.lastError = problemOf([...failed.values()][0]!);
        e.lastErrorAt = now;
        const left = cert ? "ordered without it" : "still not in the certificate";
        for (const [name, err] of failed)
          log.error(
            `acme ${spec.name}: ${name}: ${err.message}; ${left}, ` +
              `next attempt in ${Math.round(wait / 1000)} s`,
            {
              credential: spec.name,
              names: [name],
              problem: problemOf(err),
              retryInSeconds: Math.round(wait / 1000),
            },
          );
      }
      const f = e.facts!;
      if (cert) return this.changed(e, `issued by ${f.issuer}, valid until ${f.notAfter.toISOString()}`);
      e.state = this.material(spec.name) ? "valid" : "pending";
      this.schedule(e);
    } catch (err) {
      const wait = this.backoff(e, [err as Error]);
      e.lastError = problemOf(err as Error);
      e.lastErrorAt = this.now();
      e.state = this.material(spec.name) ? "valid" : "pending"; // an expired one is not served
      log.error(
        `acme ${spec.name}: ${spec.names.join(", ")}: ${(err as Error).message}; ` +
          `next attempt in ${Math.round(wait / 1000)} s`,
        {
          credential: spec.name,
          names: spec.names,
          problem: e.lastError,
          retryInSeconds: Math.round(wait / 1000),
        },
      );
      this.schedule(e);
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** The n-th failure in a row waits BACKOFF_MS[n], and at least the CA's Retry-After. */
  private backoff(e: Entry, errors: Error[]): number {
    e.attempts++;
    const wait = Math.max(
      BACKOFF_MS[Math.min(e.attempts - 1, BACKOFF_MS.length - 1)]!,
      ...errors.map((err) => (err instanceof AcmeProblemError ? (err.retryAfterMs ?? 0) : 0)),
    );
    e.retryAt = this.now() + wait;
    return wait;
  }

  /** Another instance's certificate; names it lacks are retried here after a first backoff. */
  private fromShared(e: Entry): void {
    if (e.failed.size > 0) e.retryAt = Math.max(e.retryAt ?? 0, this.now() + BACKOFF_MS[0]!);
    this.changed(e, "from the shared data directory");
  }

  private changed(e: Entry, how: string): void {
    e.state = "valid";
    this.deps.log.info(`acme ${e.spec.name}: certificate for ${e.cert!.meta.names.join(", ")} ${how}`);
    this.schedule(e);
    this.deps.onChange(e.spec.name);
  }

  private client(spec: AcmeCredentialSpec): Promise<AcmeClient> {
    const key = `${spec.directory}|${spec.caPem ?? ""}`;
    let c = this.clients.get(key);
    if (!c) {
      c = this.makeClient(spec);
      this.clients.set(key, c);
      c.catch(() => this.clients.delete(key));
    }
    return c;
  }

  /** The account is made once per CA and data directory, and its key and URL kept. */
  private async makeClient(spec: AcmeCredentialSpec): Promise<AcmeClient> {
    const { storage } = this.deps;
    const stored = await storage.readAccount(spec.directory);
    let keys: CryptoKeyPair;
    if (stored) {
      const { d: _d, ...pub } = stored.jwk;
      const alg = { name: "ECDSA", namedCurve: "P-256" };
      keys = {
        privateKey: await crypto.subtle.importKey("jwk", stored.jwk, alg, true, ["sign"]),
        publicKey: await crypto.subtle.importKey("jwk", { ...pub, key_ops: ["verify"] }, alg, true, [
          "verify",
        ]),
      };
    } else keys = await newAccountKey();
    const client = new AcmeClient(spec.directory, keys, spec.caPem);
    const url = await client.account({ email: spec.email, eab: spec.eab }, stored?.url);
    if (!stored) {
      const jwk = (await crypto.subtle.exportKey("jwk", keys.privateKey)) as JsonWebKey;
      await storage.writeAccount(spec.directory, { url, jwk, email: spec.email });
    }
    return client;
  }

  /**
   * One order for all the names; when some authorizations fail, the order is invalid (RFC 8555
   * §7.1.6), so the names that validated are ordered again alone (their authorizations are valid
   * now, and CAs reuse them) unless the certificate held already covers them and is not due.
   * `failed`: each refused name with its error. Throws when no name validated.
   */
  private async order(e: Entry): Promise<{ cert?: StoredCertificate; failed: Map<string, Error> }> {
    const { spec } = e;
    const client = await this.client(spec);
    const dir = await client.getDirectory();
    const replaces = dir.renewalInfo ? e.facts?.certId : undefined;
    // Nothing to answer with: say so without spending an order of the CA's rate limits.
    if (this.answerable(spec).length === 0)
      throw new AcmeError(
        `no challenge Portico can answer for ${spec.names.join(", ")} (wanted ` +
          `${(spec.challenges ?? CHALLENGE_TYPES).join(", ")}: http-01 needs a plain HTTP listener, ` +
          `tls-alpn-01 an HTTPS listener serving the names` +
          `${this.deps.alpnUnsupported ? `; ${this.deps.alpnUnsupported}` : ""})`,
      );
    const used = new Set<string>();
    let names = spec.names;
    let order = await client.newOrder(names, replaces);
    const failed = await this.authorizeAll(client, order, spec, used);
    if (failed.size > 0) {
      const good = names.filter((n) => !failed.has(n));
      if (good.length === 0) throw [...failed.values()][0]!;
      const covered = new Set(e.cert?.meta.names ?? []);
      if (e.cert && good.every((n) => covered.has(n)) && this.renewAt(e) > this.now()) return { failed };
      names = good;
      order = await client.newOrder(names, replaces);
      const again = await this.authorizeAll(client, order, spec, used);
      if (again.size > 0) throw [...again.values()][0]!;
    }
    order = await this.waitOrder(client, order, ["ready", "valid"]);
    const { keyAndCsr, leafFacts } = await certificates();
    const { keyPem, csrDer } = await keyAndCsr(names, spec.keyType);
    if (order.status === "ready") order = await client.finalize(order, csrDer);
    order = await this.waitOrder(client, order, ["valid"]);
    if (!order.certificate) throw new AcmeError(`order ${order.url} is valid but has no certificate URL`);
    const certPem = await client.certificate(order.certificate);
    const facts = leafFacts(certPem);
    e.challenge = [...used].join(", ");
    const cert: StoredCertificate = {
      certPem,
      keyPem,
      meta: {
        names,
        directory: spec.directory,
        obtainedAt: new Date(this.now()).toISOString(),
        notAfter: facts.notAfter.toISOString(),
        challenge: e.challenge || undefined,
      },
    };
    return { cert, failed };
  }

  /** Every authorization of the order, at once; the names that failed, with why. */
  private async authorizeAll(client: AcmeClient, order: Order, spec: AcmeCredentialSpec, used: Set<string>) {
    const failed = new Map<string, Error>();
    await Promise.all(
      order.authorizations.map(async (url) => {
        const { authz } = await client.getAuthorization(url);
        try {
          await this.authorize(client, url, authz, spec, used);
        } catch (err) {
          failed.set(authz.identifier.value, err as Error);
        }
      }),
    );
    return failed;
  }

  /** The challenge kinds to try, in order: the credential's choice among what can be answered. */
  private answerable(spec: AcmeCredentialSpec): ChallengeType[] {
    const available = this.deps.available();
    return (spec.challenges ?? available).filter((t) => available.includes(t));
  }

  private async authorize(
    client: AcmeClient,
    url: string,
    authz: Authorization,
    spec: AcmeCredentialSpec,
    used: Set<string>,
  ) {
    if (authz.status === "valid") return;
    const name = authz.identifier.value;
    const prefs = this.answerable(spec);
    const challenge = prefs
      .map((t) => authz.challenges.find((c) => c.type === t))
      .find((c) => c !== undefined);
    if (!challenge)
      throw new AcmeError(
        `${name}: no challenge Portico can answer (the CA offers ` +
          `${authz.challenges.map((c) => c.type).join(", ")}; ` +
          `Portico can answer ${prefs.join(", ") || "none"}: ` +
          "http-01 needs a plain HTTP listener, tls-alpn-01 an HTTPS listener serving the name" +
          `${this.deps.alpnUnsupported ? `; ${this.deps.alpnUnsupported}` : ""})`,
      );
    const keyAuth = await client.keyAuthorization(challenge.token);
    const { responder, log } = this.deps;
    log.info(`acme ${spec.name}: validating ${name} with ${challenge.type}`);
    used.add(challenge.type);
    if (challenge.type === "http-01") await responder.addHttpToken(challenge.token, keyAuth);
    else await responder.addTlsAlpn(name, await (await certificates()).validationCertificate(name, keyAuth));
    try {
      await client.respond(challenge);
      const done = await this.poll(async () => {
        const r = await client.getAuthorization(url);
        return { value: r.authz, done: r.authz.status !== "pending", retryAfterMs: r.retryAfterMs };
      });
      if (done.status !== "valid") throw refused(name, done);
    } finally {
      if (challenge.type === "http-01") await responder.removeHttpToken(challenge.token);
      else await responder.removeTlsAlpn(name);
    }
  }

  private waitOrder(client: AcmeClient, order: Order, want: string[]): Promise<Order> {
    if (want.includes(order.status)) return Promise.resolve(order);
    return this.poll(async () => {
      const o = await client.getOrder(order.url);
      if (o.status === "invalid")
        throw new AcmeProblemError(`order ${order.url} is invalid`, JSON.stringify(o.error ?? o), 200);
      return { value: o, done: want.includes(o.status) };
    });
  }

  /** Polls every second, or as the CA's Retry-After says (RFC 8555 §7.5.1), up to POLL_LIMIT_MS. */
  private async poll<T>(step: () => Promise<{ value: T; done: boolean; retryAfterMs?: number }>): Promise<T> {
    const until = Date.now() + POLL_LIMIT_MS;
    for (;;) {
      const r = await step();
      if (r.done) return r.value;
      if (Date.now() > until || this.closed) throw new AcmeError("the CA did not finish within 120 s");
      await new Promise((res) => setTimeout(res, Math.min(Math.max(r.retryAfterMs ?? 1000, 250), 10_000)));
    }
  }
}

/** The challenge's error (RFC 8555 §7.1.5) is the CA's reason, kept verbatim. */
function refused(name: string, authz: Authorization): AcmeProblemError {
  const failed = authz.challenges.find((c) => c.error !== undefined);
  const problem = JSON.stringify(failed?.error ?? authz);
  const detail =
    (failed?.error as { detail?: string } | undefined)?.detail ?? `authorization ${authz.status}`;
  return new AcmeProblemError(`${name}: the CA refused: ${detail}`, problem, 200);
}

/** What the log and `/certs` show: the CA's problem document verbatim, else the message. */
function problemOf(err: Error): string {
  return err instanceof AcmeProblemError ? err.problem : err.message;
}

function stopTimers(e: Entry): void {
  e.timer?.cancel();
  e.ariTimer?.cancel();
  e.expiryTimer?.cancel();
}
