// `portico certs gen`: what it writes, checked by openssl (verify with purpose, -text) and by
// `certs inspect`; refusals and file modes.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { book } from "../helpers/book.ts";
import { runCertsCommand as cli } from "../helpers/certs-command.ts";

const ROOT = resolve(import.meta.dir, "../..");

const dir = mkdtempSync(join(tmpdir(), "portico-certs-gen-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = (file: string) =>
  execFileSync("openssl", ["x509", "-in", file, "-noout", "-text"], { encoding: "utf8" });
const verify = (ca: string, cert: string, purpose: string) => {
  const r = spawnSync("openssl", ["verify", "-CAfile", ca, "-purpose", purpose, cert], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, output: r.stdout + r.stderr };
};
const mode = (file: string) => statSync(file).mode & 0o777;
const pubOfCert = (f: string) =>
  execFileSync("openssl", ["x509", "-in", f, "-noout", "-pubkey"], { encoding: "utf8" });
const pubOfKey = (f: string) => execFileSync("openssl", ["pkey", "-in", f, "-pubout"], { encoding: "utf8" });

describe("certs gen ca / server / client (EC P-256)", () => {
  const ca = join(dir, "ca");
  const server = join(dir, "server");
  const client = join(dir, "client");
  beforeAll(async () => {
    expect(await cli(["gen", "ca", "--out", ca, "--name", "Test Dev CA"])).toMatchObject({
      code: 0,
      err: "",
    });
    expect(
      await cli([
        "gen",
        "server",
        "--ca",
        ca,
        "--out",
        server,
        "app.example.test",
        "*.app.example.test",
        "127.0.0.1",
        "::1",
      ]),
    ).toMatchObject({ code: 0, err: "" });
    expect(await cli(["gen", "client", "--ca", ca, "--out", client, "alice@example.test"])).toMatchObject({
      code: 0,
      err: "",
    });
  });

  test("the CA: self-signed, CA:TRUE pathlen:0, may sign certificates, 10 years, key 0600 PKCS#8", () => {
    const t = text(join(ca, "ca.crt"));
    expect(t).toContain("Subject: O = Portico development CA, CN = Test Dev CA");
    expect(t).toContain("Issuer: O = Portico development CA, CN = Test Dev CA");
    expect(t).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(t).toContain("NIST CURVE: P-256");
    expect(t).toContain("Signature Algorithm: ecdsa-with-SHA256");
    const [nb, na] = [/Not Before: (.*)/.exec(t)![1]!, /Not After : (.*)/.exec(t)![1]!].map((d) =>
      new Date(d.replace(" GMT", "Z")).getTime(),
    );
    expect(Math.round((na! - nb!) / 86_400_000)).toBe(3650);
    expect(readFileSync(join(ca, "ca.key"), "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    expect(mode(join(ca, "ca.key"))).toBe(0o600);
    expect(pubOfKey(join(ca, "ca.key"))).toBe(pubOfCert(join(ca, "ca.crt")));
  });

  test("the server: a credential folder whose certificate openssl verifies for sslserver", () => {
    const r = verify(join(server, "ca.crt"), join(server, "tls.crt"), "sslserver");
    expect(r.stdout).toBe(`${join(server, "tls.crt")}: OK\n`);
    const t = text(join(server, "tls.crt"));
    expect(t).toContain("Subject: O = Portico development certificate, CN = app.example.test");
    expect(t).toContain(
      "DNS:app.example.test, DNS:*.app.example.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    expect(t).toMatch(/X509v3 Extended Key Usage: \s+TLS Web Server Authentication\n/);
    expect(t).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(readFileSync(join(server, "ca.crt"), "utf8")).toBe(readFileSync(join(ca, "ca.crt"), "utf8"));
    expect(mode(join(server, "tls.key"))).toBe(0o600);
    expect(pubOfKey(join(server, "tls.key"))).toBe(pubOfCert(join(server, "tls.crt")));
    // The certificate is the leaf alone; the CA is in ca.crt.
    expect(readFileSync(join(server, "tls.crt"), "utf8").match(/BEGIN CERTIFICATE/g)!.length).toBe(1);
    // Subject and authority key identifiers link it to the CA.
    expect(/Authority Key Identifier: \s+([0-9A-F:]+)/.exec(t)![1]).toBe(
      /Subject Key Identifier: \s+([0-9A-F:]+)/.exec(text(join(ca, "ca.crt")))![1],
    );
  });

  test("the client: EKU clientAuth, an e-mail SAN, verified for sslclient and refused for sslserver", () => {
    expect(verify(join(ca, "ca.crt"), join(client, "tls.crt"), "sslclient").stdout).toBe(
      `${join(client, "tls.crt")}: OK\n`,
    );
    expect(verify(join(ca, "ca.crt"), join(client, "tls.crt"), "sslserver").status).not.toBe(0);
    const t = text(join(client, "tls.crt"));
    expect(t).toContain("CN = alice@example.test");
    expect(t).toContain("email:alice@example.test");
    expect(t).toMatch(/X509v3 Extended Key Usage: \s+TLS Web Client Authentication\n/);
  });

  test("the output tells where things went and how to use them", async () => {
    const out = join(dir, "server-msg");
    const r = await cli(["gen", "server", "--ca", ca, "--out", out, "x.example.test"]);
    expect(r.out).toContain(
      `wrote ${join(out, "tls.crt")}  server certificate for DNS:x.example.test (EC P-256, valid until `,
    );
    expect(r.out).toContain(`use it in routes.yaml: credentials: { NAME: ${out} }`);
  });

  test("inspect reads the folder as a credential whose key matches and whose ca.crt issued it", async () => {
    const r = await cli(["inspect", server]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      "  tls.key  private key, EC P-256, PKCS#8; matches tls.crt\n  ca.crt   CA for client certificates (MUTUAL), 1 certificate; tls.crt is issued by it\n",
    );
  });
});

describe("certs gen options", () => {
  test("--rsa makes RSA 2048 keys, signed with sha256WithRSAEncryption by an RSA CA", async () => {
    const ca = join(dir, "rsa-ca");
    const s = join(dir, "rsa-server");
    expect((await cli(["gen", "ca", "--rsa", "--out", ca])).code).toBe(0);
    expect((await cli(["gen", "server", "--rsa", "--ca", ca, "--out", s, "rsa.example.test"])).code).toBe(0);
    const t = text(join(s, "tls.crt"));
    expect(t).toContain("Public-Key: (2048 bit)");
    expect(t).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    expect(verify(join(ca, "ca.crt"), join(s, "tls.crt"), "sslserver").status).toBe(0);
  });

  test("--days and --not-before set the validity (an expired certificate for tests)", async () => {
    const ca = join(dir, "old-ca");
    const s = join(dir, "old-server");
    expect((await cli(["gen", "ca", "--out", ca, "--not-before", "2020-01-01", "--days", "5000"])).code).toBe(
      0,
    );
    expect(
      (
        await cli([
          "gen",
          "server",
          "--ca",
          ca,
          "--out",
          s,
          "--not-before",
          "2020-01-01T00:00:00Z",
          "--days",
          "30",
          "old.example.test",
        ])
      ).code,
    ).toBe(0);
    const t = text(join(s, "tls.crt"));
    expect(t).toContain("Not Before: Jan  1 00:00:00 2020 GMT");
    expect(t).toContain("Not After : Jan 31 00:00:00 2020 GMT");
    expect(verify(join(ca, "ca.crt"), join(s, "tls.crt"), "sslserver").output).toContain(
      "certificate has expired",
    );
  });

  test("signing with a CA made by openssl whose key is PKCS#1 (BEGIN RSA PRIVATE KEY)", async () => {
    const ca = join(dir, "openssl-ca");
    mkdirSync(ca);
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(ca, "p8.key"),
        "-out",
        join(ca, "ca.crt"),
        "-subj",
        "/O=Elsewhere/CN=OpenSSL CA",
        "-days",
        "30",
      ],
      { stdio: "ignore" },
    );
    execFileSync("openssl", ["rsa", "-traditional", "-in", join(ca, "p8.key"), "-out", join(ca, "ca.key")], {
      stdio: "ignore",
    });
    expect(readFileSync(join(ca, "ca.key"), "utf8")).toStartWith("-----BEGIN RSA PRIVATE KEY-----");
    const s = join(dir, "openssl-ca-server");
    expect((await cli(["gen", "server", "--ca", ca, "--out", s, "new.example.test"])).code).toBe(0);
    expect(verify(join(ca, "ca.crt"), join(s, "tls.crt"), "sslserver").status).toBe(0);
    const t = text(join(s, "tls.crt"));
    expect(t).toContain("Issuer: O = Elsewhere, CN = OpenSSL CA");
    expect(t).toContain("Signature Algorithm: sha256WithRSAEncryption");
  });

  test("the book's CA keys are encrypted: gen says so instead of failing obscurely", async () => {
    const ca = join(dir, "book-ca");
    mkdirSync(ca);
    copyFileSync(book.webappIntermediateCert, join(ca, "ca.crt"));
    copyFileSync(book.webappIntermediateKey, join(ca, "ca.key"));
    const r = await cli([
      "gen",
      "server",
      "--ca",
      ca,
      "--out",
      join(dir, "book-server"),
      "new.istioinaction.io",
    ]);
    expect(r).toMatchObject({
      code: 1,
      err: `portico certs: --ca ${ca}: ca.key: the key is encrypted (AES-256-CBC); decrypt it first, e.g. openssl pkey -in key.pem -out plain.pem\n`,
    });
  });

  test("existing files are kept unless --force; --force rewrites keys with mode 0600", async () => {
    const ca = join(dir, "force-ca");
    expect((await cli(["gen", "ca", "--out", ca])).code).toBe(0);
    const before = readFileSync(join(ca, "ca.key"), "utf8");
    const again = await cli(["gen", "ca", "--out", ca]);
    expect(again.code).toBe(1);
    expect(again.err).toBe(
      `portico certs: ${join(ca, "ca.crt")}, ${join(ca, "ca.key")} already exist; use --force to overwrite\n`,
    );
    expect(readFileSync(join(ca, "ca.key"), "utf8")).toBe(before);
    chmodSync(join(ca, "ca.key"), 0o644);
    expect((await cli(["gen", "ca", "--out", ca, "--force"])).code).toBe(0);
    expect(readFileSync(join(ca, "ca.key"), "utf8")).not.toBe(before);
    expect(mode(join(ca, "ca.key"))).toBe(0o600);
  });

  test("refusals: a key that is not the CA's, a CA that is no CA, a bad host name, missing arguments", async () => {
    const bad = join(dir, "bad-ca");
    mkdirSync(bad);
    await cli(["gen", "ca", "--out", bad]);
    copyFileSync(book.catalogKey, join(bad, "ca.key"));
    expect(await cli(["gen", "server", "--ca", bad, "--out", join(dir, "x1"), "a.test"])).toMatchObject({
      code: 1,
      err: `portico certs: --ca ${bad}: ca.key does not match ca.crt (their public keys differ)\n`,
    });

    const leafCa = join(dir, "leaf-ca");
    mkdirSync(leafCa);
    copyFileSync(book.webappCert, join(leafCa, "ca.crt"));
    copyFileSync(book.webappKey, join(leafCa, "ca.key"));
    expect((await cli(["gen", "server", "--ca", leafCa, "--out", join(dir, "x2"), "a.test"])).err).toContain(
      "ca.crt is not a CA certificate",
    );

    const ok = join(dir, "ok-ca");
    await cli(["gen", "ca", "--out", ok]);
    expect((await cli(["gen", "server", "--ca", ok, "--out", join(dir, "x3"), "not a host"])).err).toContain(
      `"not a host" is neither a host name nor an IP address`,
    );
    expect(
      (await cli(["gen", "server", "--ca", join(dir, "missing"), "--out", join(dir, "x4"), "a.test"])).err,
    ).toContain(`cannot read ${join(dir, "missing", "ca.crt")}: no such file`);
    expect((await cli(["gen", "server", "--ca", ok, "--out", join(dir, "x5")])).code).toBe(2);
    expect((await cli(["gen", "server", "--out", join(dir, "x6"), "a.test"])).code).toBe(2);
    expect((await cli(["gen", "ca"])).code).toBe(2);
    expect((await cli(["gen", "ca", "--out", join(dir, "x7"), "--days", "0"])).code).toBe(2);
    expect((await cli(["gen", "ca", "--out", join(dir, "x8"), "--not-before", "yesterday"])).code).toBe(2);
    expect((await cli(["gen", "intermediate", "--out", join(dir, "x9")])).code).toBe(2);
  });

  test("a client named by a plain word gets it as CN and no SAN; a URI becomes a URI SAN", async () => {
    const ca = join(dir, "c-ca");
    await cli(["gen", "ca", "--out", ca]);
    await cli([
      "gen",
      "client",
      "--ca",
      ca,
      "--out",
      join(dir, "c1"),
      "alice",
      "spiffe://cluster.local/ns/default/sa/alice",
    ]);
    const t = text(join(dir, "c1", "tls.crt"));
    expect(t).toContain("CN = alice");
    expect(t).toContain(
      "X509v3 Subject Alternative Name: \n                URI:spiffe://cluster.local/ns/default/sa/alice",
    );
  });
});

describe("scripts/gen-demo-certs.ts", () => {
  test("writes the demo set (two CAs, three credentials, a client) and a routes.yaml that validates", async () => {
    const out = join(dir, "demo");
    const bun = join(ROOT, "node_modules/.bin/bun");
    const r = spawnSync(bun, [join(ROOT, "scripts/gen-demo-certs.ts"), out], { encoding: "utf8", cwd: ROOT });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`portico run -c ${join(out, "routes.yaml")}`);
    for (const cred of ["webapp-credential", "webapp-credential-mtls", "catalog-credential"]) {
      const i = await cli(["inspect", join(out, cred)]);
      expect(i.code).toBe(0);
      expect(i.out).toContain("tls.crt is issued by it");
    }
    expect(text(join(out, "catalog-credential", "tls.crt"))).toContain(
      "Issuer: O = Portico development CA, CN = Portico Demo catalog CA",
    );
    expect(
      verify(join(out, "webapp-ca-chain.pem"), join(out, "clients", "webapp-client", "tls.crt"), "sslclient")
        .status,
    ).toBe(0);
    expect(mode(join(out, "webapp-credential-mtls", "tls.key"))).toBe(0o600);
    const v = spawnSync(bun, [join(ROOT, "src/main.ts"), "validate", "-c", join(out, "routes.yaml")], {
      encoding: "utf8",
      cwd: ROOT,
    });
    expect(v.stdout).toBe(`${join(out, "routes.yaml")}: ok (3 listeners, 3 credentials)\n`);
  });

  test("refuses the repository's certs/, which holds the book's certificates", () => {
    const r = spawnSync(
      join(ROOT, "node_modules/.bin/bun"),
      [join(ROOT, "scripts/gen-demo-certs.ts"), join(ROOT, "certs")],
      { encoding: "utf8", cwd: ROOT },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("holds the book's certificates");
  });
});
