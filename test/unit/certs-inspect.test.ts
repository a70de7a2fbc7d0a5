// `portico certs inspect`: every fact it prints about the book's certificates (and about
// certificates made by `certs gen`) must be what `openssl x509 -text -noout -fingerprint`
// prints, spawned here as the oracle; then chains, keys, folders, Secrets and JSON.
import "reflect-metadata";
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { describeCertificate, type CertificateInfo } from "../../src/certs/describe.ts";
import { generateCa, generateLeaf, loadSigningCa } from "../../src/certs/generate.ts";
import { inspectSource, type InspectReport } from "../../src/certs/inspect.ts";
import { readSource } from "../../src/certs/read-source.ts";
import { opensslTime } from "../../src/certs/openssl-text.ts";
import { pemBlocks } from "../../src/certs/pem.ts";
import { basicConstraintsText } from "../../src/certs/render.ts";
import { BOOK, book } from "../helpers/book.ts";
import { runCertsCommand as cli } from "../helpers/certs-command.ts";

const ROOT = resolve(import.meta.dir, "../..");
const leaf = book.webappCert;
const leafKey = book.webappKey;
const caChain = book.webappCaChain;
const intermediate = book.webappIntermediateCert;
const root = book.webappRootCert;
const catalogKey = book.catalogKey;
const catalogCaChain = book.catalogCaChain;

const dir = mkdtempSync(join(tmpdir(), "portico-certs-inspect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (name: string, content: string | Uint8Array) => {
  const file = join(dir, `${++n}-${name}`);
  writeFileSync(file, content);
  return file;
};

async function inspect(path: string, ca?: string): Promise<InspectReport> {
  const [src] = await readSource(path);
  const caOpt = ca
    ? {
        file: ca,
        certs: await Promise.all(
          pemBlocks(readFileSync(ca, "utf8")).map(async (b, i) => ({
            label: `ca [${i + 1}]`,
            cert: await describeCertificate(b.der),
          })),
        ),
      }
    : undefined;
  return inspectSource(src!, { now: new Date(), ca: caOpt });
}

// ------------------------------------------------------------------------------ the oracle

interface OpensslFacts {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  publicKey: string;
  signatureAlgorithm: string;
  keyUsage?: string;
  extendedKeyUsage?: string;
  basicConstraints?: string;
  subjectAltNames?: string;
  sha1: string;
  sha256: string;
}

/** What `openssl x509 -text -noout -fingerprint` (and `-sha256`) print for the first certificate of `file`. */
function openssl(file: string): OpensslFacts {
  const text = execFileSync("openssl", ["x509", "-in", file, "-noout", "-text", "-fingerprint"], {
    encoding: "utf8",
  });
  const sha256 = execFileSync("openssl", ["x509", "-in", file, "-noout", "-fingerprint", "-sha256"], {
    encoding: "utf8",
  });
  const one = (re: RegExp) => {
    const m = re.exec(text);
    if (!m) throw new Error(`openssl output has no ${re}:\n${text}`);
    return m[1]!.trim();
  };
  const ext = (name: string) => {
    const m = new RegExp(`X509v3 ${name}:( critical)?\\s*\\n\\s+(.*)`).exec(text);
    return m ? `${m[2]!.trim()}${m[1] ? " (critical)" : ""}` : undefined;
  };
  const serialInline = one(/Serial Number:(.*)/);
  const serial = serialInline || one(/Serial Number:\s*\n\s+([0-9a-f:]+)/);
  const alg = one(/Public Key Algorithm: (.*)/);
  const bits = one(/Public-Key: \((\d+) bit\)/);
  const publicKey =
    alg === "rsaEncryption"
      ? `RSA ${bits}`
      : alg === "id-ecPublicKey"
        ? `EC ${one(/NIST CURVE: (.*)/)}`
        : alg === "ED25519"
          ? "Ed25519"
          : alg;
  return {
    subject: one(/^\s*Subject: (.*)$/m),
    issuer: one(/^\s*Issuer: (.*)$/m),
    serial,
    notBefore: one(/Not Before: (.*)/),
    notAfter: one(/Not After : (.*)/),
    publicKey,
    signatureAlgorithm: one(/Signature Algorithm: (.*)/),
    keyUsage: ext("Key Usage"),
    extendedKeyUsage: ext("Extended Key Usage"),
    basicConstraints: ext("Basic Constraints"),
    subjectAltNames: ext("Subject Alternative Name"),
    sha1: one(/SHA1 Fingerprint=(.*)/),
    sha256: /sha256 Fingerprint=(.*)/.exec(sha256)![1]!.trim(),
  };
}

/** The same facts as Portico reads them, in the form the text output prints them. */
function portico(c: CertificateInfo): OpensslFacts {
  const crit = (x: { critical: boolean } | undefined, v: string) =>
    x ? `${v}${x.critical ? " (critical)" : ""}` : undefined;
  return {
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serialNumber,
    notBefore: opensslTime(c.notBefore),
    notAfter: opensslTime(c.notAfter),
    publicKey: c.publicKey.text,
    signatureAlgorithm: c.signatureAlgorithm,
    keyUsage: crit(c.keyUsage, c.keyUsage?.usages.join(", ") ?? ""),
    extendedKeyUsage: crit(c.extendedKeyUsage, c.extendedKeyUsage?.usages.join(", ") ?? ""),
    basicConstraints: c.basicConstraints
      ? crit(c.basicConstraints, basicConstraintsText(c.basicConstraints))
      : undefined,
    subjectAltNames: c.subjectAltNames.length ? c.subjectAltNames.join(", ") : undefined,
    sha1: c.fingerprints.sha1,
    sha256: c.fingerprints.sha256,
  };
}

function walk(d: string): string[] {
  return readdirSync(d).flatMap((e) => {
    const p = join(d, e);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const bookCertFiles = walk(BOOK)
  .filter((f) => f.endsWith(".cert.pem"))
  .sort();

describe("every certificate of the book reads as openssl x509 -text prints it", () => {
  test("the fixtures are all there (4 sets: certs, certs2, sni/simple-sni-1, sni/simple-sni-2)", () => {
    expect(bookCertFiles.length).toBe(20);
  });
  // Each certificate of each file, chains included (openssl reads the first, so each block is compared on its own).
  const cases = bookCertFiles.flatMap((file) =>
    pemBlocks(readFileSync(file, "utf8")).map((b, i) => ({ file, i, der: b.der })),
  );
  for (const { file, i, der } of cases) {
    test(`${relative(BOOK, file)}${i > 0 ? ` [${i + 1}]` : ""}`, async () => {
      const single = tmp(
        "one.pem",
        execFileSync("openssl", ["x509", "-inform", "DER", "-outform", "PEM"], { input: der }),
      );
      expect(portico(await describeCertificate(der))).toEqual(openssl(single));
    });
  }

  test("the text output prints those values on its lines", async () => {
    const r = await cli(["inspect", leaf]);
    const o = openssl(leaf);
    expect(r.code).toBe(0);
    for (const line of [
      `  Subject:             ${o.subject}`,
      `  Issuer:              ${o.issuer}`,
      `  Serial Number:       ${o.serial}`,
      `  Not Before:          ${o.notBefore}`,
      `  Not After:           ${o.notAfter} (`,
      `  Public Key:          RSA 2048`,
      `  Signature Algorithm: ${o.signatureAlgorithm}`,
      `  Key Usage:           ${o.keyUsage}`,
      `  Extended Key Usage:  ${o.extendedKeyUsage}`,
      `  Basic Constraints:   ${o.basicConstraints}`,
      `  SHA-1 Fingerprint:   ${o.sha1}`,
      `  SHA-256 Fingerprint: ${o.sha256}`,
    ])
      expect(r.out).toContain(line);
  });

  test("a serial too large for a long prints as hex bytes, as openssl does", async () => {
    const info = await describeCertificate(pemBlocks(readFileSync(root, "utf8"))[0]!.der);
    expect(info.serialNumber).toBe("f9:52:c4:0d:dc:53:d8:b8");
    expect(info.serialHex).toBe("f952c40ddc53d8b8");
  });

  test("days left count whole days to Not After", async () => {
    const r = await cli(["inspect", leaf], new Date("2041-06-27T12:49:33Z"));
    expect(r.out).toContain("Not After:           Jun 29 12:49:32 2041 GMT (1 day left)");
  });
});

describe("certificates made by certs gen read as openssl prints them too", () => {
  const check = async (pem: string) => {
    const der = pemBlocks(pem)[0]!.der;
    expect(portico(await describeCertificate(der))).toEqual(openssl(tmp("gen.pem", pem)));
  };

  test("EC P-256 CA, server with DNS, IPv4 and IPv6 SANs, client with e-mail and URI SANs", async () => {
    const ca = await generateCa({ name: "Test CA" });
    await check(ca.certPem);
    const signer = await loadSigningCa(ca.certPem, ca.keyPem);
    await check(
      (
        await generateLeaf({
          ca: signer,
          usage: "server",
          names: ["app.example.test", "*.example.test", "127.0.0.1", "::1", "2001:db8::10"],
        })
      ).certPem,
    );
    await check(
      (
        await generateLeaf({
          ca: signer,
          usage: "client",
          names: ["alice@example.test", "spiffe://example.test/ns/default/sa/alice"],
        })
      ).certPem,
    );
  });

  test("RSA 2048 CA and server", async () => {
    const ca = await generateCa({ kind: "rsa" });
    await check(ca.certPem);
    const signer = await loadSigningCa(ca.certPem, ca.keyPem);
    await check(
      (await generateLeaf({ ca: signer, usage: "server", names: ["rsa.example.test"], kind: "rsa" })).certPem,
    );
  });

  // OpenSSL quotes values with , + ; < > (or # first, space first or last), backslash-escapes " and \,
  // and prints control characters and each UTF-8 byte of non-ASCII characters as \XX.
  const values = [
    "a,b",
    " lead",
    "trail ",
    "#hash",
    "x#y",
    'q"uote',
    "back\\slash",
    "semi;colon",
    "lt<gt>",
    "plus+",
    "café",
    "😀 smile",
    "ctrl\x01char",
    "tab\there",
    "=eq",
    "#",
    " ",
    "del\x7f",
  ];
  for (const v of values) {
    test(`distinguished name with ${JSON.stringify(v)}, a multi-valued RDN, an unknown OID and BMP/IA5 strings`, async () => {
      const ca = await generateCa({
        subject: [
          { CN: [{ utf8String: v }] },
          { O: [{ printableString: "Org" }], OU: [{ utf8String: "unit" }] },
          { "1.2.3.4": [{ utf8String: "oid" }] },
          { E: [{ ia5String: "a@b.c" }] },
          { L: [{ bmpString: "bmp€" }] },
          { DC: [{ ia5String: "example" }] },
          { "2.5.4.5": [{ printableString: "42" }] },
        ],
      });
      await check(ca.certPem);
    });
  }
});

describe("chains", () => {
  const leafPem = readFileSync(leaf, "utf8");
  const chainPem = readFileSync(caChain, "utf8");

  test("a good chain (leaf + the book's ca-chain) verifies link by link, up to a self-signed root", async () => {
    const file = tmp("fullchain.pem", leafPem + chainPem);
    const r = await inspect(file);
    expect(r.certificates.map((c) => c.label)).toEqual(["[1]", "[2]", "[3]"]);
    expect(r.chain!.links).toEqual([
      { child: "[1]", parent: "[2]", ok: true, problems: [] },
      { child: "[2]", parent: "[3]", ok: true, problems: [] },
    ]);
    expect(r.chain!.top).toEqual({
      label: "[3]",
      selfSigned: true,
      ok: true,
      detail: "self-signed root, signature verifies",
    });
    expect(r.ok).toBe(true);
    const out = await cli(["inspect", file]);
    expect(out.code).toBe(0);
    expect(out.out).toContain(
      "Chain\n  [1] issued by [2]: ok\n  [2] issued by [3]: ok\n  [3]: self-signed root, signature verifies\n  verifies\n",
    );
  });

  test("with --ca, a leaf alone ends in the CA bundle (issued by its intermediate)", async () => {
    const r = await cli(["inspect", "--ca", caChain, leaf]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `ends in --ca ${caChain}: yes ([1] is issued by ${caChain} [1] (C = US, ST = Denial, O = Dis, CN = webapp.istioinaction.io))`,
    );
  });

  test("with --ca, a chain that contains the CA itself ends in it", async () => {
    const r = await cli(["inspect", "--ca", root, tmp("fullchain.pem", leafPem + chainPem)]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`ends in --ca ${root}: yes ([3] is ${root} [1])`);
  });

  test("the wrong CA: the webapp leaf does not end in the catalog CA (certs2)", async () => {
    const r = await cli(["inspect", "--ca", catalogCaChain, leaf]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `ends in --ca ${catalogCaChain}: NO (none of its certificates is [1]'s issuer, C = US, ST = Denial, O = Dis, CN = webapp.istioinaction.io)`,
    );
    expect(r.out).toContain("Result: FAILED (chain does not verify)");
  });

  test("the wrong CA inside the chain: the link fails on name and signature", async () => {
    const r = await inspect(tmp("mixed.pem", leafPem + readFileSync(catalogCaChain, "utf8")));
    expect(r.chain!.links[0]!.ok).toBe(false);
    expect(r.chain!.links[0]!.problems).toEqual([
      "issuer of [1] (C = US, ST = Denial, O = Dis, CN = webapp.istioinaction.io) is not the subject of [2] (C = US, ST = Denial, O = Dis, CN = catalog.istioinaction.io)",
      "signature of [1] does not verify with the public key of [2]",
    ]);
    expect(r.chain!.links[1]!.ok).toBe(true);
    expect(r.ok).toBe(false);
  });

  test("a certificate with the right issuer name but another key: the signature check catches it", async () => {
    // A CA made here with exactly the name of the book's intermediate, but its own key.
    const impostor = await generateCa({
      subject: [
        { C: [{ printableString: "US" }] },
        { ST: [{ utf8String: "Denial" }] },
        { O: [{ utf8String: "Dis" }] },
        { CN: [{ utf8String: "webapp.istioinaction.io" }] },
      ],
    });
    const r = await inspect(tmp("impostor.pem", leafPem + impostor.certPem));
    expect(r.chain!.links[0]!.problems).toEqual([
      "signature of [1] does not verify with the public key of [2]",
    ]);
    const viaCa = await cli(["inspect", "--ca", tmp("impostor-ca.pem", impostor.certPem), leaf]);
    expect(viaCa.code).toBe(1);
    expect(viaCa.out).toContain(
      "has the name of [1]'s issuer, but [1]'s signature does not verify with its key",
    );
  });

  test("a reordered chain (root, intermediate, leaf) does not verify", async () => {
    const file = tmp(
      "reordered.pem",
      readFileSync(root, "utf8") + readFileSync(intermediate, "utf8") + leafPem,
    );
    const r = await inspect(file);
    expect(r.chain!.links.map((l) => l.ok)).toEqual([false, false]);
    expect(r.chain!.links[0]!.problems[0]).toStartWith(
      "issuer of [1] (C = US, ST = Denial, L = Springfield, O = Dis, CN = webapp.istioinaction.io) is not the subject of [2]",
    );
    expect(r.chain!.links[1]!.problems).toContain("[3] is not a CA (CA:FALSE)");
    expect((await cli(["inspect", file])).code).toBe(1);
  });

  test("an expired leaf makes the chain fail; alone it is reported as EXPIRED with exit 0", async () => {
    const ca = await generateCa({ notBefore: new Date("2020-01-01T00:00:00Z"), days: 3650 * 3 });
    const signer = await loadSigningCa(ca.certPem, ca.keyPem);
    const old = await generateLeaf({
      ca: signer,
      usage: "server",
      names: ["old.example.test"],
      notBefore: new Date("2020-01-01T00:00:00Z"),
      days: 30,
    });
    const now = new Date("2026-01-31T00:00:00Z");
    const chain = await cli(["inspect", tmp("expired-chain.pem", old.certPem + ca.certPem)], now);
    expect(chain.code).toBe(1);
    expect(chain.out).toContain("Not After:           Jan 31 00:00:00 2020 GMT (EXPIRED 2192 days ago)");
    expect(chain.out).toContain(
      "  [1] expired on 2020-01-31T00:00:00.000Z (2192 days ago)\n  does NOT verify",
    );
    const alone = await cli(["inspect", tmp("expired.pem", old.certPem)], now);
    expect(alone.code).toBe(0);
    expect(alone.out).toContain("(EXPIRED 2192 days ago)");
    const anchored = await cli(
      ["inspect", "--ca", tmp("ca.pem", ca.certPem), tmp("expired.pem", old.certPem)],
      now,
    );
    expect(anchored.code).toBe(1);
  });

  test("a certificate that is not valid yet makes the chain fail", async () => {
    const ca = await generateCa({});
    const signer = await loadSigningCa(ca.certPem, ca.keyPem);
    const later = await generateLeaf({
      ca: signer,
      usage: "server",
      names: ["later.example.test"],
      notBefore: new Date(Date.now() + 10 * 86_400_000),
    });
    const r = await cli(["inspect", tmp("later.pem", later.certPem + ca.certPem)]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /Not Before: {10}\w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT \(NOT VALID YET, in 10 days\)/,
    );
    expect(r.out).toContain("[1] is not valid yet");
  });

  test("a file of self-signed roots is a CA bundle, not a chain", async () => {
    const r = await cli([
      "inspect",
      tmp("bundle.pem", readFileSync(root, "utf8") + readFileSync(book.catalogRootCert, "utf8")),
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("2 self-signed certificates, a CA bundle rather than a chain");
  });
});

describe("credential folders, keys and Secrets", () => {
  const folder = (files: Record<string, string>) => {
    const d = join(dir, `folder-${++n}`);
    mkdirSync(d);
    for (const [name, src] of Object.entries(files)) copyFileSync(src, join(d, name));
    return d;
  };

  test("the bundled mTLS credential: which file is which, the PKCS#1 key matches, tls.crt is issued by ca.crt", async () => {
    const d = join(ROOT, "certs/webapp-credential-mtls");
    const r = await cli(["inspect", d]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `== ${d} (credential folder)\n` +
        "  tls.crt  certificate\n" +
        "  tls.key  private key, RSA 2048, PKCS#1; matches tls.crt\n" +
        "  ca.crt   CA for client certificates (MUTUAL), 2 certificates; tls.crt is issued by it\n",
    );
    expect(r.out).toContain("Certificate tls.crt [1]\n");
    expect(r.out).toContain("Certificate ca.crt [2] (self-signed)\n");
    expect(r.out).toContain("Chain (ca.crt)\n  ca.crt [1] issued by ca.crt [2]: ok\n");
  });

  test("a key that is not the certificate's is reported and fails (exit 1)", async () => {
    const d = folder({ "tls.crt": leaf, "tls.key": catalogKey });
    const r = await cli(["inspect", d]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("  tls.key  private key, RSA 2048, PKCS#1; does NOT match tls.crt\n");
    expect(r.out).toContain(
      "error: the private key in tls.key does not match tls.crt [1] (their public keys differ)",
    );
  });

  test("PKCS#8, SEC1 and Ed25519 keys are read too (converted and made by openssl)", async () => {
    const pkcs8 = tmp(
      "key.p8.pem",
      execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", leafKey], { encoding: "utf8" }),
    );
    expect((await inspect(folder({ "tls.crt": leaf, "tls.key": pkcs8 }))).key).toMatchObject({
      matches: true,
      details: { format: "PKCS#8", text: "RSA 2048" },
    });
    for (const [alg, text, format] of [
      [["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], "EC P-384", "PKCS#8"],
      [["-newkey", "ed25519"], "Ed25519", "PKCS#8"],
    ] as const) {
      const key = join(dir, `k${++n}.pem`);
      const crt = join(dir, `c${n}.pem`);
      execFileSync(
        "openssl",
        ["req", "-x509", ...alg, "-nodes", "-keyout", key, "-out", crt, "-subj", "/CN=k", "-days", "1"],
        { stdio: "ignore" },
      );
      expect((await inspect(folder({ "tls.crt": crt, "tls.key": key }))).key).toMatchObject({
        matches: true,
        details: { format, text },
      });
    }
    const sec1 = join(dir, `sec1-${++n}.key`);
    execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", sec1]);
    const sec1Crt = tmp(
      "sec1.crt",
      execFileSync("openssl", ["req", "-x509", "-key", sec1, "-subj", "/CN=sec1", "-days", "1"], {
        encoding: "utf8",
      }),
    );
    expect(readFileSync(sec1, "utf8")).toStartWith("-----BEGIN EC PRIVATE KEY-----");
    expect((await inspect(folder({ "tls.crt": sec1Crt, "tls.key": sec1 }))).key).toMatchObject({
      matches: true,
      details: { format: "SEC1", text: "EC P-256" },
    });
    expect((await inspect(folder({ "tls.crt": leaf, "tls.key": sec1 }))).key).toMatchObject({
      matches: false,
    });
  });

  test("the book's CA keys are encrypted (Proc-Type: 4,ENCRYPTED): inspect says so", async () => {
    const key = book.webappRootKey;
    const r = await cli(["inspect", key]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`error: ${key}: the key is encrypted (AES-256-CBC); decrypt it first`);
  });

  test("a folder without tls.key is not a usable credential", async () => {
    const r = await cli(["inspect", folder({ "tls.crt": leaf })]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("no tls.key (a credential folder holds tls.crt, tls.key and optionally ca.crt)");
  });

  test("a Kubernetes TLS Secret (data base64) reads like its folder", async () => {
    const b64 = (f: string) => readFileSync(f).toString("base64");
    const yaml = `# kubectl create secret tls ... -n istio-system
apiVersion: v1
kind: ConfigMap
metadata: { name: unrelated }
---
apiVersion: v1
kind: Secret
metadata:
  name: webapp-credential-mtls
  namespace: istio-system
type: kubernetes.io/tls
data:
  tls.crt: ${b64(leaf)}
  tls.key: ${b64(leafKey)}
  ca.crt: ${b64(caChain)}
---
apiVersion: v1
kind: Secret
metadata: { name: wrong-key }
type: Opaque
stringData:
  cert: |
${readFileSync(leaf, "utf8").replace(/^/gm, "    ")}
  key: |
${readFileSync(catalogKey, "utf8").replace(/^/gm, "    ")}
`;
    const file = tmp("secret.yaml", yaml);
    const r = await cli(["inspect", "--json", file]);
    expect(r.code).toBe(1);
    const reports = JSON.parse(r.out) as Array<Record<string, any>>;
    expect(reports.length).toBe(2);
    expect(reports[0]).toMatchObject({
      source: `${file} (Secret istio-system/webapp-credential-mtls)`,
      kind: "Kubernetes Secret",
      secret: { name: "webapp-credential-mtls", namespace: "istio-system", type: "kubernetes.io/tls" },
      key: { file: "tls.key", format: "PKCS#1", matches: true, against: "tls.crt [1]" },
      issuedByCa: { ok: true },
      ok: true,
    });
    expect(reports[0]!.certificates.map((c: { label: string }) => c.label)).toEqual([
      "tls.crt [1]",
      "ca.crt [1]",
      "ca.crt [2]",
    ]);
    expect(reports[1]).toMatchObject({
      source: `${file} (Secret wrong-key)`,
      key: { file: "key", matches: false },
      ok: false,
    });
  });

  test("kubectl's kind: List of Secrets, a CA-only Secret and a Secret missing its key", async () => {
    const b64 = (f: string) => readFileSync(f).toString("base64");
    const file = tmp(
      "list.yaml",
      `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: { name: webapp-credential-cacert, namespace: istio-system }
    data: { ca.crt: ${b64(caChain)} }
  - apiVersion: v1
    kind: Secret
    metadata: { name: half, namespace: istio-system }
    type: kubernetes.io/tls
    data: { tls.crt: ${b64(leaf)} }
`,
    );
    const r = JSON.parse((await cli(["inspect", "--json", file])).out) as Array<Record<string, any>>;
    expect(r.map((x) => [x.secret.name, x.ok])).toEqual([
      ["webapp-credential-cacert", true],
      ["half", false],
    ]);
    expect(r[0]!.certificates.map((c: { label: string }) => c.label)).toEqual(["ca.crt [1]", "ca.crt [2]"]);
    expect(r[1]!.errors).toEqual([
      `${file} (Secret istio-system/half): tls.crt without tls.key (a TLS Secret holds both)`,
    ]);
  });

  test("DER certificates and a PEM file holding certificate and key", async () => {
    const der = tmp("leaf.der", execFileSync("openssl", ["x509", "-in", leaf, "-outform", "DER"]));
    const r = await inspect(der);
    expect(r.encoding).toBe("DER");
    expect(r.certificates[0]!.cert.fingerprints.sha256).toBe(openssl(leaf).sha256);
    const combined = await cli([
      "inspect",
      tmp("combined.pem", readFileSync(leaf, "utf8") + readFileSync(leafKey, "utf8")),
    ]);
    expect(combined.code).toBe(0);
    expect(combined.out).toContain(
      "(PEM, 1 certificate, private key)\n  private key: RSA 2048, PKCS#1; matches [1]\n",
    );
  });

  test("a CA folder from certs gen ca reads as CA certificate and matching key", async () => {
    const d = join(dir, `ca-${++n}`);
    expect((await cli(["gen", "ca", "--out", d])).code).toBe(0);
    const r = await cli(["inspect", d]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `== ${d} (CA folder)\n  ca.crt   CA certificate\n  ca.key   private key, EC P-256, PKCS#8; matches ca.crt\n`,
    );
  });
});

describe("inspect's command line", () => {
  test("--json prints one object per input with the certificate facts", async () => {
    const r = await cli(["inspect", "--json", leaf, caChain]);
    expect(r.code).toBe(0);
    const [one, two] = JSON.parse(r.out) as Array<Record<string, any>>;
    expect(one!.certificates[0]).toMatchObject({
      label: "[1]",
      subject: "C = US, ST = Denial, L = Springfield, O = Dis, CN = webapp.istioinaction.io",
      issuer: "C = US, ST = Denial, O = Dis, CN = webapp.istioinaction.io",
      serialNumber: "1049106 (0x100212)",
      serialHex: "100212",
      notBefore: "2021-07-04T12:49:32.000Z",
      notAfter: "2041-06-29T12:49:32.000Z",
      status: "valid",
      subjectAltNames: [],
      publicKey: { algorithm: "rsaEncryption", type: "RSA", bits: 2048, text: "RSA 2048" },
      signatureAlgorithm: "sha256WithRSAEncryption",
      keyUsage: { critical: true, usages: ["Digital Signature", "Key Encipherment"] },
      extendedKeyUsage: { critical: false, usages: ["TLS Web Server Authentication"] },
      basicConstraints: { critical: false, ca: false, text: "CA:FALSE" },
      fingerprints: { sha1: "04:66:14:2A:D7:B5:E8:EB:11:B4:07:F4:F8:60:CD:21:DF:66:70:D2" },
      selfSigned: false,
    });
    expect(two!.chain.ok).toBe(true);
    expect(two!.certificates[1].basicConstraints).toEqual({ critical: true, ca: true, text: "CA:TRUE" });
  });

  test("a missing file, or one that is no certificate, exits 1 and says why", async () => {
    const missing = await cli(["inspect", join(dir, "nope.pem")]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain(`error: cannot read ${join(dir, "nope.pem")}: no such file or folder`);
    const junk = await cli(["inspect", tmp("junk.txt", "hello\n")]);
    expect(junk.code).toBe(1);
    expect(junk.out).toContain(
      "not a certificate or key (no PEM block, not DER) and not a Kubernetes Secret",
    );
    const broken = await cli([
      "inspect",
      tmp("broken.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
    ]);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain("certificate 1: not an X.509 certificate");
  });

  test("usage errors exit 2", async () => {
    expect((await cli(["inspect"])).code).toBe(2);
    expect((await cli(["inspect", "--bogus", leaf])).err).toContain("unknown option --bogus");
    expect((await cli(["inspect", "--servername", "x", leaf])).code).toBe(2);
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("portico certs inspect [--ca FILE] [--json] PATH...");
  });
});
