// The ACME schedule where Pebble 2.4 cannot show it: renewalInfo (RFC 9773) polled while a
// certificate is held, so a CA asking for an early renewal is heard before the 2/3 mark, and a
// certificate that expires while renewals fail stops being served at its notAfter. A tiny real
// HTTPS server on loopback plays the CA's directory, renewalInfo, nonces and (refused) orders.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { leafFacts } from "../../src/acme/certificates.ts";
import { ChallengeResponder } from "../../src/acme/challenges.ts";
import {
  AcmeManager,
  ARI_POLL_MS,
  ariPollDelayMs,
  ariRenewalTime,
  type AcmeCredentialSpec,
} from "../../src/acme/manager.ts";
import { AcmeStorage } from "../../src/acme/storage.ts";
import { generateCa, generateLeaf, loadSigningCa } from "../../src/certs/generate.ts";

const HOUR = 3_600_000;

interface FakeCa {
  url: string;
  caPem: string;
  /** The certificate the manager holds, issued by this CA. */
  held: { certPem: string; keyPem: string };
  ariRequests: string[];
  orders: number;
  close(): Promise<void>;
}

/** A CA on loopback whose renewalInfo answers `window` with `retryAfter` (seconds). */
async function fakeCa(window?: { start: Date; end: Date }, retryAfter?: number): Promise<FakeCa> {
  const ca = await generateCa({});
  const signing = await loadSigningCa(ca.certPem, ca.keyPem);
  const tls = await generateLeaf({ ca: signing, usage: "server", names: ["127.0.0.1"] });
  const held = await generateLeaf({ ca: signing, usage: "server", names: ["a.test"], days: 90 });
  const state = { ariRequests: [] as string[], orders: 0 };
  let base = "";
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const path = req.url ?? "";
    req.resume();
    if (path === "/dir") {
      res.setHeader("content-type", "application/json");
      return res.end(
        JSON.stringify({
          newNonce: `${base}/nonce`,
          newAccount: `${base}/account`,
          newOrder: `${base}/order`,
          ...(window ? { renewalInfo: `${base}/ari` } : {}),
        }),
      );
    }
    if (path.startsWith("/ari/")) {
      state.ariRequests.push(path.slice(5));
      if (retryAfter !== undefined) res.setHeader("retry-after", String(retryAfter));
      res.setHeader("content-type", "application/json");
      return res.end(
        JSON.stringify({
          suggestedWindow: { start: window!.start.toISOString(), end: window!.end.toISOString() },
          explanationURL: `${base}/why`,
        }),
      );
    }
    if (path === "/nonce") {
      res.setHeader("replay-nonce", `n${Math.random()}`);
      return res.end();
    }
    if (path === "/order") state.orders++;
    res.statusCode = 403;
    res.setHeader("replay-nonce", `n${Math.random()}`);
    res.setHeader("content-type", "application/problem+json");
    res.end(JSON.stringify({ type: "urn:ietf:params:acme:error:unauthorized", detail: "no orders here" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/dir`,
    caPem: ca.certPem,
    held: { certPem: held.certPem, keyPem: held.keyPem },
    get ariRequests() {
      return state.ariRequests;
    },
    get orders() {
      return state.orders;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const stop: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of stop.splice(0)) await f();
});

/** A manager holding `cert` for a.test from `directory`, its account already stored. */
async function managerHolding(
  directory: string,
  cert: { certPem: string; keyPem: string },
  caPem?: string,
  spec: Partial<AcmeCredentialSpec> = {},
) {
  const storage = new AcmeStorage(mkdtempSync(join(tmpdir(), "portico-acme-schedule-")));
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", keys.privateKey)) as JsonWebKey;
  await storage.writeAccount(directory, { url: `${directory}/account/1`, jwk });
  const facts = leafFacts(cert.certPem);
  await storage.writeCertificate(directory, {
    ...cert,
    meta: {
      names: ["a.test"],
      directory,
      obtainedAt: new Date().toISOString(),
      notAfter: facts.notAfter.toISOString(),
    },
  });
  const logs: string[] = [];
  const changes: string[] = [];
  const manager = new AcmeManager({
    storage,
    responder: new ChallengeResponder(undefined, storage),
    available: () => ["http-01"],
    onChange: (name) => changes.push(name),
    log: {
      info: (m) => logs.push(m),
      warn: (m) => logs.push(m),
      error: (m) => logs.push(m),
    },
  });
  stop.push(() => manager.close());
  await manager.sync([{ name: "shop", directory, caPem, keyType: "ec", names: ["a.test"], ...spec }]);
  return { manager, logs, changes, facts };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("ACME Renewal Information (RFC 9773 §4.3)", () => {
  test("polled as Retry-After says, clamped to 1 h..24 h, 6 h without it", () => {
    expect(ariPollDelayMs(undefined)).toBe(6 * HOUR);
    expect(ariPollDelayMs(60_000)).toBe(ARI_POLL_MS.min);
    expect(ariPollDelayMs(3 * HOUR)).toBe(3 * HOUR);
    expect(ariPollDelayMs(48 * HOUR)).toBe(ARI_POLL_MS.max);
  });

  test("a random moment inside the window; now when its end has passed", () => {
    const now = Date.parse("2026-06-01T00:00:00Z");
    const window = { start: now + HOUR, end: now + 3 * HOUR };
    expect(ariRenewalTime(window, now, 0)).toBe(now + HOUR);
    expect(ariRenewalTime(window, now, 0.5)).toBe(now + 2 * HOUR);
    expect(ariRenewalTime({ start: now - 2 * HOUR, end: now - HOUR }, now, 0.5)).toBe(now);
    // Started already: never a moment in the past.
    expect(ariRenewalTime({ start: now - HOUR, end: now + HOUR }, now, 0)).toBe(now);
  });

  test("a window already past (the CA wants the certificate replaced) renews at once", async () => {
    const past = { start: new Date(Date.now() - 2 * HOUR), end: new Date(Date.now() - HOUR) };
    const ca = await fakeCa(past);
    stop.push(() => ca.close());
    const { manager, logs, facts } = await managerHolding(ca.url, ca.held, ca.caPem);
    manager.start();
    // Asked at start, not at the 2/3 mark (60 days away), and ordered at once.
    await until(() => ca.orders > 0);
    expect(ca.ariRequests).toEqual([facts.certId!]);
    expect(logs.join("\n")).toMatch(
      /renewal window is .*; renewing at .* \(the CA explains: https:.*\/why\)/,
    );
    // The refusal is logged once the CA's answer to the order is read: after the order arrived.
    const refused = /acme shop: a\.test: .*no orders here; next attempt in 60 s/;
    await until(() => refused.test(logs.join("\n")));
  }, 15_000);

  test("a window ahead sets the renewal inside it, and the next poll follows Retry-After (clamped)", async () => {
    const start = new Date(Date.now() + 10 * HOUR);
    const end = new Date(Date.now() + 12 * HOUR);
    const ca = await fakeCa({ start, end }, 60);
    stop.push(() => ca.close());
    const { manager } = await managerHolding(ca.url, ca.held, ca.caPem);
    const before = Date.now();
    manager.start();
    await until(() => manager.status()[0]?.renewalWindow !== undefined);
    const s = manager.status()[0]!;
    expect(s.renewalWindow).toEqual({ start: start.toISOString(), end: end.toISOString() });
    const next = Date.parse(s.nextRenewal!);
    expect(next).toBeGreaterThanOrEqual(start.getTime());
    expect(next).toBeLessThanOrEqual(end.getTime());
    // Retry-After: 60 is below the floor: asked again in an hour.
    const poll = Date.parse(s.nextRenewalInfo!) - before;
    expect(poll).toBeGreaterThanOrEqual(HOUR);
    expect(poll).toBeLessThan(HOUR + 10_000);
    expect(ca.orders).toBe(0);
  }, 15_000);
});

describe("expiry without a reload", () => {
  test("a certificate that expires while renewals fail is announced at its notAfter", async () => {
    const ca = await generateCa({});
    const now = Date.now();
    const cert = await generateLeaf({
      ca: await loadSigningCa(ca.certPem, ca.keyPem),
      usage: "server",
      names: ["a.test"],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 2_000),
    });
    // A CA that does not answer: every renewal fails, and backs off for a minute.
    const { manager, changes, logs } = await managerHolding("https://127.0.0.1:1/dir", cert);
    manager.start();
    expect(manager.material("shop")).toBeDefined();
    await until(() => changes.length > 0, 5_000);
    expect(changes).toEqual(["shop"]);
    expect(manager.material("shop")).toBeUndefined();
    expect(manager.status()[0]!.state).toBe("pending");
    expect(logs.join("\n")).toMatch(/acme shop: the certificate for a\.test expired at .* without a renewal/);
  }, 15_000);
});
