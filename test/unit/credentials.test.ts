import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { X509Certificate as NodeX509 } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { CredentialConfig } from "../../src/config/model.ts";
import { quickCredential } from "../../src/provision/credential-quick.ts";
import {
  CredentialCache,
  certificateCovers,
  credentialNow,
  parseCredential,
  provisionCredential,
} from "../../src/provision/credentials.ts";
import { keyKind } from "../../src/tls/key-kind.ts";
import { FileMemo, FileReads, recordReads } from "../../src/util/file-reads.ts";
import { book } from "../helpers/book.ts";
import { openssl } from "../helpers/pki.ts";

const ROOT = resolve(import.meta.dir, "../..");
const { webappCert, webappKey, webappCaChain, catalogKey } = book;

const SOURCE = { file: "/etc/portico/routes.yaml", line: 12, path: "credentials.test" };

function cred(files: { cert: string; key: string; ca?: string }, caOptional = false): CredentialConfig {
  return { name: "test", ...files, caOptional, source: SOURCE };
}

/** The single issue message of a failed provisioning. */
async function issuesOf(c: CredentialConfig): Promise<string[]> {
  const r = await provisionCredential(c);
  if (r.ok) throw new Error("expected provisioning to fail");
  for (const issue of r.issues)
    expect({ file: issue.file, line: issue.line, path: issue.path }).toEqual(SOURCE);
  return r.issues.map((i) => i.message);
}

function sha256Of(certFile: string): string {
  return new NodeX509(readFileSync(certFile)).fingerprint256.replaceAll(":", "").toLowerCase();
}

let dir: string;

/** Writes key `name`.key (already there) into a self-signed cert `name`.crt with a DNS SAN. */
function selfSign(name: string): string {
  const crt = join(dir, `${name}.crt`);
  openssl([
    "req",
    "-x509",
    "-key",
    join(dir, `${name}.key`),
    "-subj",
    `/CN=${name}.test`,
    "-addext",
    `subjectAltName=DNS:${name}.test`,
    "-days",
    "1",
    "-out",
    crt,
  ]);
  return crt;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "portico-cred-"));
  // EC P-256 in SEC1 ("EC PRIVATE KEY") and the same key as PKCS#8 ("PRIVATE KEY").
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "ec-sec1.key")]);
  openssl([
    "pkcs8",
    "-topk8",
    "-nocrypt",
    "-in",
    join(dir, "ec-sec1.key"),
    "-out",
    join(dir, "ec-pkcs8.key"),
  ]);
  // RSA in PKCS#8 (genpkey's default output).
  openssl([
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    join(dir, "rsa-pkcs8.key"),
  ]);
  openssl(["pkey", "-in", join(dir, "rsa-pkcs8.key"), "-traditional", "-out", join(dir, "rsa-pkcs1.key")]);
  // An encrypted key, which provisioning cannot use.
  openssl([
    "pkey",
    "-in",
    join(dir, "ec-sec1.key"),
    "-aes256",
    "-passout",
    "pass:secret",
    "-out",
    join(dir, "ec-encrypted.key"),
  ]);
  // RSA-PSS (id-RSASSA-PSS), which Web Crypto imports only as rsaEncryption.
  openssl([
    "genpkey",
    "-algorithm",
    "RSA-PSS",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    join(dir, "rsa-pss.key"),
  ]);
  // Ed25519 and EC P-384, the other kinds quickCredential names itself.
  openssl(["genpkey", "-algorithm", "ED25519", "-out", join(dir, "ed25519.key")]);
  openssl(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", join(dir, "ec-p384.key")]);
  for (const n of ["ec-sec1", "rsa-pkcs8", "rsa-pss", "ed25519", "ec-p384"]) selfSign(n);
}, 30_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("provisionCredential: good credentials", () => {
  test("the book's webapp certificate and its PKCS#1 RSA key", async () => {
    expect(readFileSync(webappKey, "utf8")).toStartWith("-----BEGIN RSA PRIVATE KEY-----");
    const r = await provisionCredential(cred({ cert: webappCert, key: webappKey }));
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const p = r.plan;
    expect(p.name).toBe("test");
    expect(p.certFile).toBe(webappCert);
    expect(p.keyFile).toBe(webappKey);
    expect(p.caFile).toBeUndefined();
    expect(p.caPem).toBeUndefined();
    expect(p.certPem).toBe(readFileSync(webappCert, "utf8"));
    expect(p.keyPem).toBe(readFileSync(webappKey, "utf8"));
    expect(p.leaf.subject).toBe("C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io");
    expect(p.leaf.dnsNames).toEqual([]);
    expect(p.leaf.sha256).toBe(sha256Of(webappCert));
    expect(p.leaf.notAfter.getTime()).toBe(
      new Date(new NodeX509(readFileSync(webappCert)).validTo).getTime(),
    );
  });

  test("with a CA bundle", async () => {
    const r = await provisionCredential(cred({ cert: webappCert, key: webappKey, ca: webappCaChain }));
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.caFile).toBe(webappCaChain);
    expect(r.plan.caPem).toBe(readFileSync(webappCaChain, "utf8"));
  });

  test.each([
    ["EC key in SEC1", "ec-sec1", "ec-sec1.key", "-----BEGIN EC PRIVATE KEY-----"],
    ["EC key in PKCS#8", "ec-sec1", "ec-pkcs8.key", "-----BEGIN PRIVATE KEY-----"],
    ["RSA key in PKCS#8", "rsa-pkcs8", "rsa-pkcs8.key", "-----BEGIN PRIVATE KEY-----"],
    ["RSA key in PKCS#1", "rsa-pkcs8", "rsa-pkcs1.key", "-----BEGIN RSA PRIVATE KEY-----"],
    ["RSA-PSS key in PKCS#8", "rsa-pss", "rsa-pss.key", "-----BEGIN PRIVATE KEY-----"],
  ])("%s", async (_label, certName, keyName, header) => {
    const cert = join(dir, `${certName}.crt`);
    const key = join(dir, keyName);
    expect(readFileSync(key, "utf8")).toStartWith(header);
    const r = await provisionCredential(cred({ cert, key }));
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.leaf.subject).toBe(`CN=${certName}.test`);
    expect(r.plan.leaf.dnsNames).toEqual([`${certName}.test`]);
    expect(r.plan.leaf.sha256).toBe(sha256Of(cert));
  });

  test("folder form with caOptional and no ca.crt: ok, no CA", async () => {
    const folder = join(dir, "folder-no-ca");
    mkdirSync(folder);
    copyFileSync(webappCert, join(folder, "tls.crt"));
    copyFileSync(webappKey, join(folder, "tls.key"));
    const c = cred(
      { cert: join(folder, "tls.crt"), key: join(folder, "tls.key"), ca: join(folder, "ca.crt") },
      true,
    );
    const r = await provisionCredential(c);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.caPem).toBeUndefined();
    expect(r.plan.caFile).toBeUndefined();
  });

  test("folder form with caOptional and a ca.crt: the CA is read", async () => {
    const folder = join(ROOT, "certs/webapp-credential-mtls");
    const c = cred(
      { cert: join(folder, "tls.crt"), key: join(folder, "tls.key"), ca: join(folder, "ca.crt") },
      true,
    );
    const r = await provisionCredential(c);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.caFile).toBe(join(folder, "ca.crt"));
    expect(r.plan.caPem).toBe(readFileSync(join(folder, "ca.crt"), "utf8"));
  });
});

describe("provisionCredential: problems are reported with the file named", () => {
  test("a key that belongs to another certificate", async () => {
    expect(await issuesOf(cred({ cert: webappCert, key: catalogKey }))).toEqual([
      `private key ${catalogKey} does not match certificate ${webappCert} (their public keys differ)`,
    ]);
  });

  test("an RSA-PSS key against another RSA certificate", async () => {
    const key = join(dir, "rsa-pss.key");
    expect(await issuesOf(cred({ cert: webappCert, key }))).toEqual([
      `private key ${key} does not match certificate ${webappCert} (their public keys differ)`,
    ]);
  });

  test("an EC key against an RSA certificate", async () => {
    const key = join(dir, "ec-sec1.key");
    const [message] = await issuesOf(cred({ cert: webappCert, key }));
    expect(message).toContain("does not match");
  });

  test("a missing certificate file", async () => {
    const missing = join(dir, "nope.crt");
    expect(await issuesOf(cred({ cert: missing, key: webappKey }))).toEqual([
      `cannot read certificate ${missing}: no such file or folder`,
    ]);
  });

  test("missing certificate and key: both reported", async () => {
    const c = join(dir, "nope.crt");
    const k = join(dir, "nope.key");
    expect(await issuesOf(cred({ cert: c, key: k }))).toEqual([
      `cannot read certificate ${c}: no such file or folder`,
      `cannot read private key ${k}: no such file or folder`,
    ]);
  });

  test("a missing CA bundle when the CA is required", async () => {
    const ca = join(dir, "nope-ca.crt");
    expect(await issuesOf(cred({ cert: webappCert, key: webappKey, ca }))).toEqual([
      `cannot read CA bundle ${ca}: no such file or folder`,
    ]);
  });

  test("a folder where a file is expected", async () => {
    expect(await issuesOf(cred({ cert: webappCert, key: dir }))).toEqual([
      `cannot read private key ${dir}: is a folder, expected a file`,
    ]);
  });

  test("a certificate file without PEM certificate", async () => {
    const f = join(dir, "not-pem.crt");
    writeFileSync(f, "hello\n");
    expect(await issuesOf(cred({ cert: f, key: webappKey }))).toEqual([
      `${f}: no PEM certificate found (expected "-----BEGIN CERTIFICATE-----")`,
    ]);
  });

  test("a PEM certificate block with a broken body", async () => {
    const f = join(dir, "broken.crt");
    writeFileSync(f, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    const [message] = await issuesOf(cred({ cert: f, key: webappKey }));
    expect(message).toStartWith(`${f}: cannot parse certificate: `);
  });

  test("a key given where the certificate belongs reads as no certificate", async () => {
    expect(await issuesOf(cred({ cert: webappKey, key: webappKey }))).toEqual([
      `${webappKey}: no PEM certificate found (expected "-----BEGIN CERTIFICATE-----")`,
    ]);
  });

  test("an encrypted private key", async () => {
    const key = join(dir, "ec-encrypted.key");
    const [message] = await issuesOf(cred({ cert: join(dir, "ec-sec1.crt"), key }));
    expect(message).toStartWith(
      `${key}: cannot read private key (expected PEM, PKCS#1, PKCS#8 or SEC1, unencrypted): `,
    );
  });

  test("a CA bundle without a certificate", async () => {
    const ca = join(dir, "empty-ca.crt");
    writeFileSync(ca, "# nothing here\n");
    expect(await issuesOf(cred({ cert: webappCert, key: webappKey, ca }))).toEqual([
      `${ca}: no PEM certificate found in the CA bundle`,
    ]);
  });
});

describe("provisionCredential: the key file", () => {
  test("a key file with other blocks before the key (openssl ecparam -genkey)", async () => {
    const key = join(dir, "ec-with-params.key");
    const params = execFileSync("openssl", ["ecparam", "-name", "prime256v1"]).toString();
    writeFileSync(key, params + readFileSync(join(dir, "ec-sec1.key"), "utf8"));
    const r = await provisionCredential(cred({ cert: join(dir, "ec-sec1.crt"), key }));
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
  });

  test("a key file without a private key", async () => {
    expect(await issuesOf(cred({ cert: webappCert, key: webappCert }))).toEqual([
      `${webappCert}: cannot read private key (expected PEM, PKCS#1, PKCS#8 or SEC1, unencrypted): no private key found (expected "-----BEGIN PRIVATE KEY-----" or an RSA or EC one)`,
    ]);
  });
});

describe("certificateCovers", () => {
  test("the CN when there is no SAN; SAN DNS names otherwise", async () => {
    const plan = async (files: { cert: string; key: string }) => {
      const r = await provisionCredential(cred(files));
      if (!r.ok) throw new Error(JSON.stringify(r.issues));
      return r.plan;
    };
    const webapp = await plan({ cert: webappCert, key: webappKey });
    expect(certificateCovers(webapp, "webapp.istioinaction.io")).toBe(true);
    expect(certificateCovers(webapp, "WEBAPP.istioinaction.io")).toBe(true);
    expect(certificateCovers(webapp, "catalog.istioinaction.io")).toBe(false);
    const san = await plan({ cert: join(dir, "ec-sec1.crt"), key: join(dir, "ec-sec1.key") });
    expect(certificateCovers(san, "ec-sec1.test")).toBe(true);
    expect(certificateCovers(san, "x.ec-sec1.test")).toBe(false);
  });
});

describe("CredentialCache: a load parses only the credentials whose PEM text changed", () => {
  test("same files: reused; a rotated certificate: parsed; an unused entry: dropped", async () => {
    const cache = new CredentialCache();
    const a = { cert: join(dir, "cache-a.crt"), key: join(dir, "cache-a.key") };
    copyFileSync(webappCert, a.cert);
    copyFileSync(webappKey, a.key);
    const b = { cert: join(dir, "ec-sec1.crt"), key: join(dir, "ec-sec1.key") };
    const load = async () => {
      const rs = await Promise.all([
        provisionCredential(cred(a), cache),
        provisionCredential(cred(b), cache),
      ]);
      cache.sweep();
      for (const r of rs) if (!r.ok) throw new Error(JSON.stringify(r.issues));
      return rs.map((r) => (r.ok ? r.plan : undefined));
    };
    const [first] = await load();
    expect(cache.lastLoad).toEqual({ parsed: 2, reused: 0 });
    const [again] = await load();
    expect(cache.lastLoad).toEqual({ parsed: 0, reused: 2 });
    expect(again!.leaf).toBe(first!.leaf);
    // A new certificate for the same key in the same file: parsed, and what it says is new.
    copyFileSync(join(dir, "ec-sec1.key"), join(dir, "cache-c.key"));
    copyFileSync(selfSign("cache-c"), a.cert);
    copyFileSync(join(dir, "cache-c.key"), a.key);
    const [rotated] = await load();
    expect(cache.lastLoad).toEqual({ parsed: 1, reused: 1 });
    expect(rotated!.leaf.dnsNames).toEqual(["cache-c.test"]);
    // The webapp entry went unused for a whole load: gone, so going back parses it again.
    copyFileSync(webappCert, a.cert);
    copyFileSync(webappKey, a.key);
    await load();
    expect(cache.lastLoad).toEqual({ parsed: 1, reused: 1 });
  });

  test("a key that does not match is refused on every load, never cached", async () => {
    const cache = new CredentialCache();
    const bad = cred({ cert: webappCert, key: catalogKey });
    for (let i = 0; i < 2; i++) {
      expect((await provisionCredential(bad, cache)).ok).toBe(false);
      cache.sweep();
      expect(cache.lastLoad).toEqual({ parsed: 0, reused: 0 });
    }
  });
});

describe("credentialNow: the usual credential, without awaiting anything", () => {
  test("what provisionCredential gives, the exposed key included; unchanged files not read again", async () => {
    const a = { cert: join(dir, "known-a.crt"), key: join(dir, "known-a.key") };
    copyFileSync(webappCert, a.cert);
    copyFileSync(webappKey, a.key);
    chmodSync(a.key, 0o644);
    const cache = new CredentialCache();
    const memo = new FileMemo(20);
    await Bun.sleep(40);
    const load = <T>(fn: () => T) =>
      recordReads(new FileReads(), async () => fn(), memo).finally(() => cache.sweep());
    const done = (now: ReturnType<typeof credentialNow>) => ("done" in now ? now.done : undefined);
    // The first load reads and parses.
    const first = await load(() => provisionCredential(cred(a), cache));
    expect(memo.lastLoad).toMatchObject({ read: 2, reused: 0 });
    expect(cache.lastLoad).toEqual({ parsed: 1, reused: 0 });
    // The next finds both files unchanged: neither read nor parsed again.
    const known = await load(() => done(credentialNow(cred(a), cache)));
    expect(memo.lastLoad).toMatchObject({ read: 0, reused: 2 });
    expect(cache.lastLoad).toEqual({ parsed: 0, reused: 1 });
    expect(known).toEqual(first);
    expect(known!.ok && known!.warnings.map((w) => w.message)).toEqual([
      expect.stringContaining("is readable by its group and every user (mode 0644)"),
    ]);
    // A key file that no longer matches the certificate: read again, and left to the thorough
    // reading (which says what is wrong).
    copyFileSync(join(dir, "ec-sec1.key"), a.key);
    const now = await load(() => credentialNow(cred(a), cache));
    expect(memo.lastLoad).toMatchObject({ read: 1, reused: 1 });
    expect("texts" in now).toBe(true);
    expect((await load(() => provisionCredential(cred(a), cache))).ok).toBe(false);
  });
});

describe("quickCredential (node:crypto) says what the thorough reading says, or leaves it to it", () => {
  const text = (f: string) => readFileSync(f, "utf8");
  const thorough = async (cert: string, key: string, ca?: string) => {
    const issues: string[] = [];
    const facts = await parseCredential(cred({ cert, key }), cert, key, ca, (m) => issues.push(m));
    expect(issues).toEqual([]);
    return facts;
  };

  test("the usual credentials: RSA and EC leaves, SEC1 and PKCS#8 keys, a leaf with its chain, client CAs", async () => {
    const rsa = selfSign("rsa-pkcs8");
    const cases: [string, string, string?][] = [
      [text(webappCert), text(webappKey)],
      [text(join(dir, "ec-sec1.crt")), text(join(dir, "ec-sec1.key"))],
      [text(join(dir, "ec-sec1.crt")), text(join(dir, "ec-pkcs8.key"))],
      [text(rsa), text(join(dir, "rsa-pkcs1.key"))],
      [text(join(dir, "ed25519.crt")), text(join(dir, "ed25519.key"))],
      [text(join(dir, "ec-p384.crt")), text(join(dir, "ec-p384.key"))],
      [text(webappCert) + text(book.webappIntermediateCert), text(webappKey)],
      // A MUTUAL server's: a bundle of two client CAs, and one.
      [text(webappCert), text(webappKey), text(webappCaChain)],
      [text(webappCert), text(webappKey), text(book.webappIntermediateCert)],
    ];
    for (const [cert, key, ca] of cases) {
      const quick = quickCredential(cert, key, ca);
      expect(quick).toBeDefined();
      // The key's kind as key-kind.ts reads it from the PEM, for the thorough reading.
      expect(quick).toEqual({ ...(await thorough(cert, key, ca))!, keyKind: keyKind(key) });
    }
  });

  test("anything wrong or unusual is left to the thorough reading", () => {
    const webapp = text(webappCert);
    // A key that is not the certificate's, a chain out of order, a CA bundle without a
    // certificate, no certificate.
    expect(quickCredential(webapp, text(catalogKey), undefined)).toBeUndefined();
    const reversed = text(book.webappIntermediateCert) + webapp;
    expect(quickCredential(reversed, text(webappKey), undefined)).toBeUndefined();
    expect(quickCredential(webapp, text(webappKey), text(webappKey))).toBeUndefined();
    expect(quickCredential(text(webappKey), text(webappKey), undefined)).toBeUndefined();
  });
});
