// The pieces of the ACME lifecycle that a CA run cannot pin down exactly: the tls-alpn-01
// validation certificate (RFC 8737 §3), the ARI CertID (RFC 9773 §4.1), the storage's lock and
// file modes, the default data directory.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { leafFacts, validationCertificate, ACME_IDENTIFIER_OID } from "../../src/acme/certificates.ts";
import { defaultDataDir } from "../../src/acme/data-dir.ts";
import { retryAfterMs } from "../../src/acme/http.ts";
import { AcmeStorage, caSlug, certSlug } from "../../src/acme/storage.ts";
import { generateCa, generateLeaf, loadSigningCa } from "../../src/certs/generate.ts";
import { AuthorityKeyIdentifierExtension, X509Certificate } from "../../src/certs/x509.ts";

describe("tls-alpn-01 validation certificate", () => {
  test("names exactly the identifier, with the critical acmeIdentifier = SHA-256(key authorization)", async () => {
    const { certPem } = await validationCertificate("shop.example.com", "token.thumb");
    const cert = new X509Certificate(certPem);
    const ext = cert.extensions.find((e) => e.type === ACME_IDENTIFIER_OID)!;
    expect(ext.critical).toBe(true);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode("token.thumb")),
    );
    expect([...new Uint8Array(ext.value)]).toEqual([0x04, 0x20, ...digest]);
    expect(leafFacts(certPem).names).toEqual(["shop.example.com"]);
  });
});

describe("ARI CertID", () => {
  test("base64url of the AKI keyIdentifier, a dot, base64url of the serial's DER content", async () => {
    const ca = await generateCa({});
    const leaf = await generateLeaf({
      ca: await loadSigningCa(ca.certPem, ca.keyPem),
      usage: "server",
      names: ["a.test"],
    });
    const aki = leaf.cert.getExtension(AuthorityKeyIdentifierExtension)!.keyId!;
    const serial = leaf.cert.serialNumber;
    // generate.ts's serials have the high bit clear, so the DER content is the bytes as they are.
    const expected = `${Buffer.from(aki, "hex").toString("base64url")}.${Buffer.from(serial, "hex").toString("base64url")}`;
    expect(leafFacts(leaf.certPem).certId).toBe(expected);
  });
});

describe("storage", () => {
  test("one lock holder at a time; released, or expired, it can be taken again", async () => {
    const root = mkdtempSync(join(tmpdir(), "portico-acme-unit-"));
    const s = new AcmeStorage(root);
    const dir = "https://ca.example/dir";
    const release = await s.tryLock(dir, ["a.test"]);
    expect(release).toBeDefined();
    expect(await s.tryLock(dir, ["a.test"])).toBeUndefined();
    expect(await s.tryLock(dir, ["b.test"])).toBeDefined();
    await release!();
    const again = await s.tryLock(dir, ["a.test"]);
    expect(again).toBeDefined();
    // A holder that died: its lock's expiry has passed.
    const lock = join(s.caDir(dir), "locks", `${certSlug(["a.test"])}.lock`);
    writeFileSync(
      lock,
      JSON.stringify({ owner: "gone", expires: new Date(Date.now() - 1000).toISOString() }),
    );
    expect(await s.tryLock(dir, ["a.test"])).toBeDefined();
  });

  test("files 0600 and folders 0700; one folder per set of names, in any order", async () => {
    const root = mkdtempSync(join(tmpdir(), "portico-acme-unit-"));
    const s = new AcmeStorage(root);
    const dir = "https://acme-v02.api.letsencrypt.org/directory";
    expect(caSlug(dir)).toBe("acme-v02.api.letsencrypt.org-directory");
    expect(certSlug(["b.test", "a.test"])).toBe(certSlug(["a.test", "b.test"]));
    const meta = { names: ["a.test"], directory: dir, obtainedAt: "x", notAfter: "y" };
    await s.writeCertificate(dir, { certPem: "C", keyPem: "K", meta });
    const folder = s.certDir(dir, ["a.test"]);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(join(folder, "tls.key")).mode & 0o777).toBe(0o600);
    expect((await s.readCertificate(dir, ["a.test"]))?.keyPem).toBe("K");
  });

  test("default data directory: /var/lib/portico for root, XDG_DATA_HOME, else ~/.local/share", () => {
    const root = process.getuid?.() === 0;
    if (root) expect(defaultDataDir({})).toBe("/var/lib/portico");
    else {
      expect(defaultDataDir({ XDG_DATA_HOME: "/x/data" })).toBe("/x/data/portico");
      expect(defaultDataDir({})).toMatch(/\/\.local\/share\/portico$/);
    }
  });
});

describe("Retry-After", () => {
  test("seconds or an HTTP date (RFC 9110 §10.2.3), as milliseconds from now", () => {
    const answer = (v: string | undefined) => ({ status: 429, headers: { "retry-after": v }, body: "" });
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs(answer("120"), now)).toBe(120_000);
    expect(retryAfterMs(answer("Thu, 01 Jan 2026 01:00:00 GMT"), now)).toBe(3_600_000);
    expect(retryAfterMs(answer("Wed, 31 Dec 2025 23:00:00 GMT"), now)).toBe(0);
    expect(retryAfterMs(answer(undefined), now)).toBeUndefined();
    expect(retryAfterMs(answer("soon"), now)).toBeUndefined();
  });
});
