// What the ACME lifecycle keeps on disk, under the data directory (--data):
//
//   acme/<ca>/account.json                    the account key (JWK) and URL, made once
//   acme/<ca>/certificates/<name>/tls.crt     the chain, leaf first
//   acme/<ca>/certificates/<name>/tls.key     its private key (PKCS#8)
//   acme/<ca>/certificates/<name>/meta.json   identifiers, when it was obtained, the ARI window
//   acme/<ca>/locks/<name>.lock               who is ordering <name>, until when
//   acme/challenges/http-01/<token>           key authorizations, so any instance can answer
//
// Files are 0600 and folders 0700 (they hold private keys); every file is written to a temporary
// name and renamed, so a reader (another instance on the same volume) never sees half a file.
// <ca> is the directory URL's host, port and path; <name> the first host and a hash of all of them.
// A certificate folder has a Kubernetes TLS secret's file names, so it is also a credential
// folder for `portico certs inspect` and for routes.yaml `credentials: { NAME: DIR }`.

import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

export interface StoredAccount {
  url: string;
  /** The private JWK (P-256), with `d`. */
  jwk: JsonWebKey;
  email?: string;
}

export interface StoredCertificate {
  certPem: string;
  keyPem: string;
  meta: CertificateMeta;
}

export interface CertificateMeta {
  names: string[];
  directory: string;
  obtainedAt: string;
  notAfter: string;
  /** The challenge that validated it ("http-01", "tls-alpn-01"). */
  challenge?: string;
  /** The credential's names left out because their validation failed, with the CA's problem. */
  pending?: { name: string; problem: string; at: string }[];
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** A lock older than this is taken over: its owner died or lost the volume (see README). */
export const LOCK_TTL_MS = 10 * 60_000;

export class AcmeStorage {
  constructor(readonly root: string) {}

  caDir(directoryUrl: string): string {
    return join(this.root, "acme", caSlug(directoryUrl));
  }

  certDir(directoryUrl: string, names: string[]): string {
    return join(this.caDir(directoryUrl), "certificates", certSlug(names));
  }

  async readAccount(directoryUrl: string): Promise<StoredAccount | undefined> {
    return readJson<StoredAccount>(join(this.caDir(directoryUrl), "account.json"));
  }

  async writeAccount(directoryUrl: string, account: StoredAccount): Promise<void> {
    await writePrivate(join(this.caDir(directoryUrl), "account.json"), JSON.stringify(account, null, 2));
  }

  async readCertificate(directoryUrl: string, names: string[]): Promise<StoredCertificate | undefined> {
    const dir = this.certDir(directoryUrl, names);
    const meta = await readJson<CertificateMeta>(join(dir, "meta.json"));
    if (!meta) return undefined;
    try {
      const [certPem, keyPem] = await Promise.all([
        readFile(join(dir, "tls.crt"), "utf8"),
        readFile(join(dir, "tls.key"), "utf8"),
      ]);
      return { certPem, keyPem, meta };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  /** Key first, then chain, then meta: a reader goes by meta.json, written last. */
  /** `folder`: the credential's names (its folder), when the certificate covers only some. */
  async writeCertificate(directoryUrl: string, c: StoredCertificate, folder = c.meta.names): Promise<void> {
    const dir = this.certDir(directoryUrl, folder);
    await writePrivate(join(dir, "tls.key"), c.keyPem);
    await writePrivate(join(dir, "tls.crt"), c.certPem);
    await writePrivate(join(dir, "meta.json"), JSON.stringify(c.meta, null, 2));
  }

  /** Every certificate folder under the data directory, with its meta and any lock on it. */
  async listCertificates(): Promise<{ folder: string; meta?: CertificateMeta; lockedUntil?: string }[]> {
    const out: { folder: string; meta?: CertificateMeta; lockedUntil?: string }[] = [];
    const acme = join(this.root, "acme");
    for (const ca of await names(acme)) {
      if (ca === "challenges") continue;
      for (const name of await names(join(acme, ca, "certificates"))) {
        const folder = join(acme, ca, "certificates", name);
        const meta = await readJson<CertificateMeta>(join(folder, "meta.json"));
        const lock = await readJson<{ expires?: string }>(join(acme, ca, "locks", `${name}.lock`));
        out.push({ folder, meta, ...(lock?.expires ? { lockedUntil: lock.expires } : {}) });
      }
    }
    return out;
  }

  async writeHttpToken(token: string, keyAuthorization: string): Promise<void> {
    await writePrivate(join(this.root, "acme", "challenges", "http-01", safe(token)), keyAuthorization);
  }

  async readHttpToken(token: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.root, "acme", "challenges", "http-01", safe(token)), "utf8");
    } catch {
      return undefined;
    }
  }

  async removeHttpToken(token: string): Promise<void> {
    await rm(join(this.root, "acme", "challenges", "http-01", safe(token)), { force: true });
  }

  /**
   * Takes the lock for ordering `names` (O_EXCL create), or returns undefined when another
   * instance holds one that has not expired. The holder releases it with the function returned.
   */
  async tryLock(
    directoryUrl: string,
    names: string[],
    now = Date.now(),
  ): Promise<(() => Promise<void>) | undefined> {
    const dir = join(this.caDir(directoryUrl), "locks");
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    const file = join(dir, `${certSlug(names)}.lock`);
    const owner = `${hostname()}:${process.pid}:${crypto.randomUUID()}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(file, "wx", FILE_MODE);
        await fh.writeFile(JSON.stringify({ owner, expires: new Date(now + LOCK_TTL_MS).toISOString() }));
        await fh.close();
        return async () => {
          const held = await readJson<{ owner: string }>(file);
          if (held?.owner === owner) await rm(file, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const held = await readJson<{ expires?: string }>(file);
        const expires = held?.expires ? Date.parse(held.expires) : (await mtime(file)) + LOCK_TTL_MS;
        if (!(expires < now)) return undefined;
        // Expired: its owner is gone. Remove it and try once more (another may win that race).
        await rm(file, { force: true });
      }
    }
    return undefined;
  }
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

async function mtime(file: string): Promise<number> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

async function writePrivate(file: string, text: string): Promise<void> {
  await mkdir(join(file, ".."), { recursive: true, mode: DIR_MODE });
  const tmp = `${file}.${process.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await writeFile(tmp, text, { mode: FILE_MODE });
  await rename(tmp, file);
}

/** `https://acme-v02.api.letsencrypt.org/directory` → `acme-v02.api.letsencrypt.org-directory`. */
export function caSlug(directoryUrl: string): string {
  const u = new URL(directoryUrl);
  return safe(`${u.host}${u.pathname}`.replace(/\/+$/, ""));
}

/** The first host, readable, and an FNV-1a hash of all of them (sorted): one folder per set. */
export function certSlug(names: string[]): string {
  const sorted = [...names].sort();
  let h = 0x811c9dc5;
  for (const ch of sorted.join(",")) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return safe(`${sorted[0] ?? "none"}-${h.toString(16).padStart(8, "0")}`);
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^\.+/, "_");
}
