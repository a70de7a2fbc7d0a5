// A throwaway PKI made with the openssl binary, per test run: a CA, a server certificate for
// many names, client certificates with chosen SANs, a self-signed rogue, and a CRL.
import { spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pem {
  crt: string;
  key: string;
}

/** Runs the openssl binary; fails with its stderr when it does. */
export function openssl(args: string[], cwd?: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}:\n${r.stderr}`);
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), "portico-pki-"));
  readonly ca: Pem;

  constructor(caName = "Portico Test CA") {
    this.ca = { crt: join(this.dir, "ca.crt"), key: join(this.dir, "ca.key") };
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        `/CN=${caName}`,
        "-keyout",
        this.ca.key,
        "-out",
        this.ca.crt,
        "-days",
        "2",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      this.dir,
    );
  }

  /** A leaf signed by the CA; `sans` in openssl's form ("DNS:a.test", "URI:spiffe://x"). */
  issue(name: string, cn: string, sans: string[], usage: "serverAuth" | "clientAuth"): Pem {
    const out = { crt: join(this.dir, `${name}.crt`), key: join(this.dir, `${name}.key`) };
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    openssl(
      ["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", out.key, "-out", csr],
      this.dir,
    );
    writeFileSync(
      ext,
      `subjectAltName=${sans.join(",")}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`,
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        this.ca.crt,
        "-CAkey",
        this.ca.key,
        "-CAcreateserial",
        "-out",
        out.crt,
        "-days",
        "2",
        "-extfile",
        ext,
      ],
      this.dir,
    );
    return out;
  }

  /** A CRL signed by the CA that revokes `revoked`. */
  crl(revoked: Pem[]): string {
    const cnf = join(this.dir, "ca.cnf");
    writeFileSync(join(this.dir, "index.txt"), "");
    writeFileSync(join(this.dir, "crlnumber"), "01\n");
    writeFileSync(
      cnf,
      `[ca]\ndefault_ca=d\n[d]\ndatabase=${join(this.dir, "index.txt")}\ncrlnumber=${join(this.dir, "crlnumber")}\ndefault_md=sha256\ndefault_crl_days=30\n`,
    );
    for (const r of revoked)
      openssl(
        ["ca", "-config", cnf, "-revoke", r.crt, "-keyfile", this.ca.key, "-cert", this.ca.crt],
        this.dir,
      );
    const out = join(this.dir, "crl.pem");
    openssl(
      ["ca", "-config", cnf, "-gencrl", "-keyfile", this.ca.key, "-cert", this.ca.crt, "-out", out],
      this.dir,
    );
    return out;
  }
}

/** A self-signed client certificate that no CA vouches for. */
export function rogueClient(dir: string, cn = "rogue"): Pem {
  const out = { crt: join(dir, `${cn}.crt`), key: join(dir, `${cn}.key`) };
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      out.key,
      "-out",
      out.crt,
      "-days",
      "2",
      "-addext",
      `subjectAltName=DNS:${cn}.test`,
    ],
    dir,
  );
  return out;
}

/** Hex SHA-256 of the certificate as openssl prints it: upper case, colon-separated. */
export function certHash(crt: string): string {
  return new X509Certificate(readFileSync(crt)).fingerprint256;
}

/** Base64 SHA-256 of the certificate's SubjectPublicKeyInfo (Envoy's verify_certificate_spki). */
export function spkiHash(crt: string): string {
  const spki = new X509Certificate(readFileSync(crt)).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}
