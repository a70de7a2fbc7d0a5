// Reads a credential's files and proves they belong together, so that a wrong key or a missing
// file stops Portico at startup with the file named, never at the first handshake.

import { readFile } from "node:fs/promises";
import { createPrivateKey, createPublicKey, X509Certificate as NodeX509 } from "node:crypto";
import { X509Certificate, SubjectAlternativeNameExtension } from "@peculiar/x509";
import type { CredentialConfig } from "../config/model.ts";
import type { ConfigIssue } from "../errors.ts";
import { bytesEqual } from "../certs/pem.ts";
import { checkChain } from "./chain.ts";
import type { CertificateSummary, CredentialPlan } from "./plan.ts";

export type CredentialResult = { ok: true; plan: CredentialPlan } | { ok: false; issues: ConfigIssue[] };

export async function provisionCredential(c: CredentialConfig): Promise<CredentialResult> {
  const issues: ConfigIssue[] = [];
  const fail = (message: string) => issues.push({ file: c.source.file, line: c.source.line, path: c.source.path, message });

  const inline = c.inline ?? {};
  const certPem = inline.cert ?? (await readText(c.cert, "certificate", fail));
  const keyPem = inline.key ?? (await readText(c.key, "private key", fail));
  let caPem: string | undefined = inline.ca;
  if (caPem === undefined && c.ca) caPem = c.caOptional ? await readOptional(c.ca, fail) : await readText(c.ca, "CA bundle", fail);
  if (certPem === undefined || keyPem === undefined || issues.length > 0) return { ok: false, issues };

  const blocks = pemBlocks(certPem, "CERTIFICATE");
  if (blocks.length === 0) {
    fail(`${c.cert}: no PEM certificate found (expected "-----BEGIN CERTIFICATE-----")`);
    return { ok: false, issues };
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]!);
  } catch (err) {
    fail(`${c.cert}: cannot parse certificate: ${(err as Error).message}`);
    return { ok: false, issues };
  }

  let keySpki: Uint8Array;
  try {
    // node:crypto reads PKCS#1, PKCS#8 and SEC1 keys alike, on Bun, Deno and Node.
    keySpki = new Uint8Array(createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" }));
  } catch (err) {
    fail(`${c.key}: cannot read private key (expected PEM, PKCS#1, PKCS#8 or SEC1, unencrypted): ${(err as Error).message}`);
    return { ok: false, issues };
  }
  if (!bytesEqual(keySpki, new Uint8Array(leaf.publicKey.rawData))) {
    fail(`private key ${c.key} does not match certificate ${c.cert} (their public keys differ)`);
    return { ok: false, issues };
  }
  if (caPem !== undefined && pemBlocks(caPem, "CERTIFICATE").length === 0) {
    fail(`${c.ca}: no PEM certificate found in the CA bundle`);
    return { ok: false, issues };
  }

  let chainCerts: X509Certificate[];
  let caCerts: X509Certificate[];
  try {
    chainCerts = blocks.map((b) => new X509Certificate(b));
    caCerts = caPem === undefined ? [] : pemBlocks(caPem, "CERTIFICATE").map((b) => new X509Certificate(b));
  } catch (err) {
    fail(`cannot parse a certificate of ${c.cert}${c.ca ? ` or ${c.ca}` : ""}: ${(err as Error).message}`);
    return { ok: false, issues };
  }
  const chain = await Promise.all(chainCerts.map(summarize));
  const check = await checkChain(chainCerts);
  return {
    ok: true,
    plan: {
      name: c.name,
      certFile: c.cert,
      keyFile: c.key,
      caFile: caPem === undefined ? undefined : c.ca,
      certPem,
      keyPem,
      caPem,
      leaf: chain[0]!,
      chain,
      chainProblems: check.problems,
      anchoredAt: check.anchoredAt,
      clientCa: await Promise.all(caCerts.map(summarize)),
    },
  };
}

export async function summarize(cert: X509Certificate): Promise<CertificateSummary> {
  const san = cert.getExtension(SubjectAlternativeNameExtension);
  const dnsNames = san ? san.names.items.filter((n) => n.type === "dns").map((n) => n.value) : [];
  const uriNames = san ? san.names.items.filter((n) => n.type === "url").map((n) => n.value) : [];
  const sha256 = Buffer.from(await cert.getThumbprint("SHA-256")).toString("hex");
  return { subject: cert.subject, issuer: cert.issuer, notBefore: cert.notBefore, notAfter: cert.notAfter, sha256, dnsNames, uriNames };
}

/** Whether the certificate is valid for `host` (SAN DNS names, or the CN when there is no SAN). */
export function certificateCovers(certPem: string, host: string): boolean {
  return new NodeX509(certPem).checkHost(host) !== undefined;
}

export function pemBlocks(text: string, label: string): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, "g");
  return text.match(re) ?? [];
}

async function readText(file: string, what: string, fail: (m: string) => void): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    fail(`cannot read ${what} ${file}: ${describeFsError(err)}`);
    return undefined;
  }
}

async function readOptional(file: string, fail: (m: string) => void): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") fail(`cannot read CA bundle ${file}: ${describeFsError(err)}`);
    return undefined;
  }
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT") return "no such file";
  if (e.code === "EACCES") return "permission denied";
  if (e.code === "EISDIR") return "is a folder, expected a file";
  return e.code ?? e.message;
}

