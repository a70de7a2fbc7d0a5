// Provisions the ServerTLSSettings of HTTPS servers beyond mode and credential: reads and
// verifies CRLs, checks cipher suite names against the runtime's TLS library, and compiles the
// client-certificate check the listener adapter runs after each handshake.

import { readBytes } from "../util/file-reads.ts";
import { getCiphers } from "node:tls";
import type { X509Crl } from "../certs/x509.ts";
import { loadX509 } from "../certs/x509-loader.ts";
import type { Config, TlsServerConfig } from "../config/model.ts";
import { cannotRead, type ConfigIssue } from "../util/errors.ts";
import { compileClientCertCheck, serialKey } from "../tls/client-cert-check.ts";
import { pemDer, toArrayBuffer } from "../certs/pem.ts";
import { issueAt, warningAt } from "./issues.ts";
import { Slices } from "../util/slices.ts";
import type { CredentialPlan, TlsServerPlan } from "./plan.ts";

export type ServerTlsExtras = Pick<
  TlsServerPlan,
  "clientCertCheck" | "minVersion" | "maxVersion" | "ciphers"
>;

const VERSION = { TLSV1_2: "TLSv1.2", TLSV1_3: "TLSv1.3" } as const;

/** Extras per HTTPS server of `config`; servers whose settings fail are reported in `issues`. */
export async function provisionServerTls(
  config: Config,
  credentials: Map<string, CredentialPlan>,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
  slices = new Slices(),
): Promise<Map<TlsServerConfig, ServerTlsExtras>> {
  const out = new Map<TlsServerConfig, ServerTlsExtras>();
  for (const l of config.listeners) {
    if (l.protocol !== "HTTPS") continue;
    for (const s of l.servers) {
      await slices.pause();
      const credential = credentials.get(s.credential);
      if (!credential) continue; // its own issue was reported
      const extras = await serverExtras(s, credential, issues, warnings);
      if (extras) out.set(s, extras);
    }
  }
  return out;
}

async function serverExtras(
  s: TlsServerConfig,
  credential: CredentialPlan,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
): Promise<ServerTlsExtras | undefined> {
  const fail = (field: string, message: string) => issues.push(issueAt(s.source, message, `.tls.${field}`));
  const before = issues.length;
  const extras: ServerTlsExtras = {};
  // routes.yaml's schema says so too; this catches models built from Istio documents.
  if (s.mode === "SIMPLE") {
    for (const field of [
      "subjectAltNames",
      "verifyCertificateSpki",
      "verifyCertificateHash",
      "caCrl",
    ] as const) {
      if (s[field] !== undefined)
        fail(
          field,
          "only applies with mode MUTUAL or OPTIONAL_MUTUAL: a SIMPLE server never asks for a client " +
            "certificate",
        );
    }
  }
  if (s.minProtocolVersion) extras.minVersion = VERSION[s.minProtocolVersion];
  if (s.maxProtocolVersion) extras.maxVersion = VERSION[s.maxProtocolVersion];
  if (s.cipherSuites) {
    const known = new Set(getCiphers().map((c) => c.toUpperCase()));
    const unknown = s.cipherSuites.filter((c) => !known.has(c));
    if (unknown.length > 0) {
      const offered = [...known]
        .filter((c) => !c.startsWith("TLS_"))
        .sort()
        .join(", ");
      fail(
        "cipherSuites",
        `not known to this runtime's TLS library: ${unknown.join(", ")}; it knows ${offered}`,
      );
    }
    extras.ciphers = s.cipherSuites.join(":");
  }
  let revoked: Map<string, Set<string>> | undefined;
  if (s.caCrl !== undefined) {
    const warn = (m: string) => warnings.push(warningAt(s.source, m, ".tls.caCrl"));
    revoked = await readCrl(s.caCrl, credential, (m) => fail("caCrl", m), warn);
  }
  if (issues.length > before) return undefined;
  const check = compileClientCertCheck({
    subjectAltNames: s.subjectAltNames,
    spkiSha256: s.verifyCertificateSpki,
    certSha256: s.verifyCertificateHash,
    revoked,
  });
  if (check) {
    // The check parses each client certificate at its handshake, synchronously.
    await loadX509();
    extras.clientCertCheck = check;
  }
  return extras;
}

/**
 * Reads a CRL file (PEM with one or more "X509 CRL" blocks, or one DER CRL), verifies each CRL's
 * signature against a CA of the credential, and returns the revoked serials by issuer.
 */
async function readCrl(
  file: string,
  credential: CredentialPlan,
  fail: (m: string) => void,
  warn: (m: string) => void,
) {
  let bytes: Buffer;
  try {
    bytes = await readBytes(file);
  } catch (err) {
    fail(cannotRead(file, err, "CRL"));
    return undefined;
  }
  const text = bytes.toString("latin1");
  const unreadable = (err: unknown) =>
    fail(
      `${file}: not a readable CRL (expected PEM "-----BEGIN X509 CRL-----" or DER): ` +
        `${(err as Error).message}`,
    );
  let blocks: Uint8Array[];
  try {
    blocks = text.includes("-----BEGIN") ? pemDer(text, "X509 CRL") : [new Uint8Array(bytes)];
  } catch (err) {
    unreadable(err);
    return undefined;
  }
  if (blocks.length === 0) {
    fail(`${file}: no CRL found (expected "-----BEGIN X509 CRL-----" or DER)`);
    return undefined;
  }
  const { X509Certificate, X509Crl } = await loadX509();
  const cas = pemDer(credential.caPem ?? "", "CERTIFICATE").map((d) => new X509Certificate(toArrayBuffer(d)));
  const revoked = new Map<string, Set<string>>();
  for (const block of blocks) {
    let crl: X509Crl;
    try {
      crl = new X509Crl(toArrayBuffer(block));
    } catch (err) {
      unreadable(err);
      return undefined;
    }
    const issuers = cas.filter((ca) => ca.subject === crl.issuer);
    let verified = false;
    for (const ca of issuers) if (await crl.verify({ publicKey: ca }).catch(() => false)) verified = true;
    if (!verified) {
      const why =
        issuers.length === 0
          ? `its issuer (${crl.issuer}) is not a CA of credential "${credential.name}"`
          : "its signature does not verify with that CA";
      fail(
        `${file}: CRL not accepted: ${why}; a CRL must be signed by the CA that issues the client ` +
          `certificates`,
      );
      return undefined;
    }
    if (crl.nextUpdate && crl.nextUpdate.getTime() < Date.now()) {
      warn(
        `the CRL of ${crl.issuer} in ${file} was due for renewal on ${crl.nextUpdate.toISOString()}; it is ` +
          `still applied`,
      );
    }
    const serials = revoked.get(crl.issuer) ?? new Set<string>();
    for (const entry of crl.entries) serials.add(serialKey(entry.serialNumber));
    revoked.set(crl.issuer, serials);
  }
  return revoked;
}
