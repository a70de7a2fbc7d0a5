// Reads a credential's files and proves they belong together, so that a wrong key or a missing
// file stops Portico at startup with the file named, never at the first handshake. The reading
// and judging are those of `portico certs` (src/certs/): pure TypeScript and Web Crypto, the
// same on Bun, Deno and Node.

import type { CredentialConfig } from "../config/model.ts";
import { cannotRead, type ConfigIssue } from "../util/errors.ts";
import { chainOrderProblems } from "../certs/chain.ts";
import { createHash } from "node:crypto";
import type { CertificateInfo } from "../certs/describe.ts";
import { certificateCoversHost } from "../certs/host-names.ts";
import { pemDer } from "../certs/pem.ts";
import type { PrivateKeyDetails } from "../certs/private-key.ts";
import type { CertificateSummary, CredentialFacts, CredentialPlan, ParsedFacts } from "./plan.ts";
import { keyKind } from "../tls/key-kind.ts";
import { quickCredential } from "./credential-quick.ts";
import { issueAt, warningAt } from "./issues.ts";
import { exposedKeyWarning } from "./key-file-mode.ts";
import { readTextNow } from "../util/file-reads.ts";

export type CredentialResult =
  | { ok: true; plan: CredentialPlan; warnings: ConfigIssue[] }
  | { ok: false; issues: ConfigIssue[] };

export async function provisionCredential(
  c: CredentialConfig,
  cache?: CredentialCache,
): Promise<CredentialResult> {
  const now = credentialNow(c, cache);
  return "done" in now ? now.done : await thoroughly(c, now.texts, cache);
}

/**
 * provisionCredential without awaiting anything, for the usual credential: its files read
 * synchronously (unchanged ones not at all: util/file-reads.ts's memo), its facts from the
 * cache or from quickCredential. What it leaves (`texts`) is an unusual or faulty credential,
 * for the thorough reading, which is asynchronous. The 32 async chains mapBounded ran at once
 * cost a promise chain per file and finished together, so a reload's slice ran 5-10 ms over
 * its 3; this way (with the changes beside it, docs/architecture.md "Reload") a 10,000-host
 * startup went from 5.6 to 4.5 s of CPU.
 */
export function credentialNow(
  c: CredentialConfig,
  cache?: CredentialCache,
): { done: CredentialResult } | { texts: PemTexts } {
  const issues: ConfigIssue[] = [];
  const fail = (message: string) => issues.push(issueAt(c.source, message));

  const inline = c.inline ?? {};
  const certPem = inline.cert ?? readText(c.cert, "certificate", fail);
  const keyPem = inline.key ?? readText(c.key, "private key", fail);
  let caPem: string | undefined = inline.ca;
  if (caPem === undefined && c.ca)
    caPem = c.caOptional ? readOptional(c.ca, fail) : readText(c.ca, "CA bundle", fail);
  if (certPem === undefined || keyPem === undefined || issues.length > 0)
    return { done: { ok: false, issues } };

  // Same PEM text as a load before: its facts are already known (a reload re-parses only what changed).
  const digest = cache?.digestOf(c.name, certPem, keyPem, caPem) ?? contentDigest(certPem, keyPem, caPem);
  const texts = { certPem, keyPem, caPem, digest };
  let parsed = cache?.get(digest);
  if (parsed === undefined) {
    parsed = quickCredential(certPem, keyPem, caPem);
    if (parsed === undefined) return { texts };
    cache?.set(digest, parsed);
  }
  return { done: provisioned(c, texts, parsed) };
}

/** The rest of provisionCredential for what credentialNow left: `portico certs`'s reading. */
export async function thoroughly(
  c: CredentialConfig,
  texts: PemTexts,
  cache?: CredentialCache,
): Promise<CredentialResult> {
  const issues: ConfigIssue[] = [];
  const fail = (message: string) => issues.push(issueAt(c.source, message));
  const { certPem, keyPem, caPem, digest } = texts;
  const fresh = await parseCredential(c, certPem, keyPem, caPem, fail);
  if (fresh === undefined) return { ok: false, issues };
  const parsed = { ...fresh, keyKind: keyKind(keyPem) };
  cache?.set(digest, parsed);
  return provisioned(c, texts, parsed);
}

function provisioned(c: CredentialConfig, texts: PemTexts, parsed: CredentialFacts): CredentialResult {
  const { certPem, keyPem, caPem, digest } = texts;
  // The mode the key's read saw: no second stat of 10,000 key files.
  const exposed = c.inline?.key === undefined ? exposedKeyWarning(c.key) : undefined;
  return {
    ok: true,
    warnings: exposed ? [warningAt(c.source, exposed)] : [],
    plan: {
      name: c.name,
      certFile: c.cert,
      keyFile: c.key,
      caFile: caPem === undefined ? undefined : c.ca,
      certPem,
      keyPem,
      caPem,
      digest,
      ...parsed,
    },
  };
}

/**
 * Parsed credentials by the SHA-256 of their PEM text, kept from one load to the next, so that
 * a reload that changes nothing, or only routes, parses no certificate again: x509 parsing and
 * the key check are most of a load's cost with thousands of credentials. Entries a load did not
 * use are dropped at the end of the next load (`sweep`), so rotated certificates do not pile up.
 */
export class CredentialCache {
  private last = new Map<string, CredentialFacts>();
  private next = new Map<string, CredentialFacts>();
  private lastTexts = new Map<string, PemTexts>();
  private nextTexts = new Map<string, PemTexts>();
  /** Credentials parsed (not found here) since the last sweep. */
  parsed = 0;
  /** Credentials found here since the last sweep. */
  reused = 0;
  /** The counts of the last load, as `sweep` ended it. */
  lastLoad = { parsed: 0, reused: 0 };

  get(digest: string): CredentialFacts | undefined {
    const hit = this.next.get(digest) ?? this.last.get(digest);
    if (hit !== undefined) {
      this.next.set(digest, hit);
      this.reused++;
    }
    return hit;
  }

  set(digest: string, parsed: CredentialFacts): void {
    this.next.set(digest, parsed);
    this.parsed++;
  }

  /**
   * contentDigest of a credential's PEM text, not computed again when the text is what the last
   * load had for that credential: unchanged files come back as the same strings
   * (util/file-reads.ts's FileMemo), so the comparison is by reference, and hashing 10,000
   * certificates and keys on every reload was a tenth of its cost.
   */
  digestOf(name: string, certPem: string, keyPem: string, caPem: string | undefined): string {
    const was = this.nextTexts.get(name) ?? this.lastTexts.get(name);
    const same = was?.certPem === certPem && was.keyPem === keyPem && was.caPem === caPem;
    const texts = same ? was : { certPem, keyPem, caPem, digest: contentDigest(certPem, keyPem, caPem) };
    this.nextTexts.set(name, texts);
    return texts.digest;
  }

  /** Ends a load: what it did not use goes; the counts start again. */
  sweep(): void {
    this.lastLoad = { parsed: this.parsed, reused: this.reused };
    this.last = this.next;
    this.next = new Map();
    this.lastTexts = this.nextTexts;
    this.nextTexts = new Map();
    this.parsed = 0;
    this.reused = 0;
  }
}

export interface PemTexts {
  certPem: string;
  keyPem: string;
  caPem: string | undefined;
  digest: string;
}

function contentDigest(certPem: string, keyPem: string, caPem: string | undefined): string {
  // NUL cannot occur in PEM text, so the three parts cannot run into each other.
  return createHash("sha256")
    .update(certPem)
    .update("\0")
    .update(keyPem)
    .update("\0")
    .update(caPem ?? "\0absent")
    .digest("hex");
}

/** The thorough reading: every certificate and key `portico certs` reads, and what is wrong, said. */
export async function parseCredential(
  c: CredentialConfig,
  certPem: string,
  keyPem: string,
  caPem: string | undefined,
  fail: (message: string) => void,
): Promise<ParsedFacts | undefined> {
  // The X.509 stack (certs/x509-loader.ts): only a credential quickCredential leaves to this.
  const [{ describeCertificate }, { keyMatchesSpki, readPrivateKeyPem }] = await Promise.all([
    import("../certs/describe.ts"),
    import("../certs/private-key.ts"),
  ]);
  let blocks: Uint8Array[];
  let leaf: CertificateInfo;
  try {
    blocks = pemDer(certPem, "CERTIFICATE");
    if (blocks.length === 0) {
      fail(`${c.cert}: no PEM certificate found (expected "-----BEGIN CERTIFICATE-----")`);
      return undefined;
    }
    leaf = await describeCertificate(blocks[0]!);
  } catch (err) {
    fail(`${c.cert}: cannot parse certificate: ${(err as Error).message}`);
    return undefined;
  }

  let key: PrivateKeyDetails;
  try {
    key = await readPrivateKeyPem(keyPem);
  } catch (err) {
    fail(
      `${c.key}: cannot read private key (expected PEM, PKCS#1, PKCS#8 or SEC1, unencrypted): ` +
        `${(err as Error).message}`,
    );
    return undefined;
  }
  if (!(await keyMatchesSpki(key, leaf.spki))) {
    fail(`private key ${c.key} does not match certificate ${c.cert} (their public keys differ)`);
    return undefined;
  }

  let chain: CertificateInfo[];
  let caCerts: CertificateInfo[];
  try {
    const caBlocks = caPem === undefined ? [] : pemDer(caPem, "CERTIFICATE");
    if (caPem !== undefined && caBlocks.length === 0) {
      fail(`${c.ca}: no PEM certificate found in the CA bundle`);
      return undefined;
    }
    chain = [leaf, ...(await Promise.all(blocks.slice(1).map(describeCertificate)))];
    caCerts = await Promise.all(caBlocks.map(describeCertificate));
  } catch (err) {
    fail(`cannot parse a certificate of ${c.cert}${c.ca ? ` or ${c.ca}` : ""}: ${(err as Error).message}`);
    return undefined;
  }
  const summaries = chain.map(summarize);
  return {
    leaf: summaries[0]!,
    chain: summaries,
    chainProblems: await chainOrderProblems(chain),
    anchoredAt: chain[chain.length - 1]!.x509.issuer,
    clientCa: caCerts.map(summarize),
    leafNames: { subjectAltNames: leaf.subjectAltNames, commonNames: leaf.commonNames },
  };
}

/**
 * Whether the credential's certificate is valid for `host`, as a client checks it (SAN DNS
 * names, or the CN when there is no SAN; see certificateCoversHost), from the names read when
 * it was parsed.
 */
export function certificateCovers(c: CredentialPlan, host: string): boolean {
  return certificateCoversHost(c.leafNames, host);
}

/** Startup messages and the admin API print names as the parsed certificate does: `CN=a, O=b`. */
function summarize(cert: CertificateInfo): CertificateSummary {
  const names = (prefix: string) =>
    cert.subjectAltNames.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
  return {
    subject: cert.x509.subject,
    issuer: cert.x509.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    sha256: cert.fingerprints.sha256.replaceAll(":", "").toLowerCase(),
    dnsNames: names("DNS:"),
    uriNames: names("URI:"),
  };
}

function readText(file: string, what: string, fail: (m: string) => void): string | undefined {
  try {
    return readTextNow(file);
  } catch (err) {
    fail(cannotRead(file, err, what));
    return undefined;
  }
}

/** A folder's ca.crt may be absent; any other failure to read it is still reported. */
function readOptional(file: string, fail: (m: string) => void): string | undefined {
  try {
    return readTextNow(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") fail(cannotRead(file, err, "CA bundle"));
    return undefined;
  }
}
