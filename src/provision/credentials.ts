// Reads a credential's files and proves they belong together, so that a wrong key or a missing
// file stops Portico at startup with the file named, never at the first handshake. The reading
// and judging are those of `portico certs` (src/certs/): pure TypeScript and Web Crypto, the
// same on Bun, Deno and Node.

import type { CredentialConfig } from "../config/model.ts";
import { cannotRead, type ConfigIssue } from "../util/errors.ts";
import { chainOrderProblems } from "../certs/chain.ts";
import {
  certificateCoversHost,
  describeCertificate,
  readCertificate,
  type CertificateInfo,
} from "../certs/describe.ts";
import { pemDer } from "../certs/pem.ts";
import { keyMatchesSpki, readPrivateKeyPem, type PrivateKeyDetails } from "../certs/private-key.ts";
import type { CertificateSummary, CredentialPlan } from "./plan.ts";
import { issueAt, warningAt } from "./issues.ts";
import { exposedKeyWarning } from "./key-file-mode.ts";
import { readText as readFileText } from "../util/file-reads.ts";

export type CredentialResult =
  | { ok: true; plan: CredentialPlan; warnings: ConfigIssue[] }
  | { ok: false; issues: ConfigIssue[] };

export async function provisionCredential(c: CredentialConfig): Promise<CredentialResult> {
  const issues: ConfigIssue[] = [];
  const fail = (message: string) => issues.push(issueAt(c.source, message));

  const inline = c.inline ?? {};
  const certPem = inline.cert ?? (await readText(c.cert, "certificate", fail));
  const keyPem = inline.key ?? (await readText(c.key, "private key", fail));
  let caPem: string | undefined = inline.ca;
  if (caPem === undefined && c.ca)
    caPem = c.caOptional ? await readOptional(c.ca, fail) : await readText(c.ca, "CA bundle", fail);
  if (certPem === undefined || keyPem === undefined || issues.length > 0) return { ok: false, issues };

  let blocks: Uint8Array[];
  let leaf: CertificateInfo;
  try {
    blocks = pemDer(certPem, "CERTIFICATE");
    if (blocks.length === 0) {
      fail(`${c.cert}: no PEM certificate found (expected "-----BEGIN CERTIFICATE-----")`);
      return { ok: false, issues };
    }
    leaf = await describeCertificate(blocks[0]!);
  } catch (err) {
    fail(`${c.cert}: cannot parse certificate: ${(err as Error).message}`);
    return { ok: false, issues };
  }

  let key: PrivateKeyDetails;
  try {
    key = await readPrivateKeyPem(keyPem);
  } catch (err) {
    fail(
      `${c.key}: cannot read private key (expected PEM, PKCS#1, PKCS#8 or SEC1, unencrypted): ` +
        `${(err as Error).message}`,
    );
    return { ok: false, issues };
  }
  if (!(await keyMatchesSpki(key, leaf.spki))) {
    fail(`private key ${c.key} does not match certificate ${c.cert} (their public keys differ)`);
    return { ok: false, issues };
  }

  let chain: CertificateInfo[];
  let caCerts: CertificateInfo[];
  try {
    const caBlocks = caPem === undefined ? [] : pemDer(caPem, "CERTIFICATE");
    if (caPem !== undefined && caBlocks.length === 0) {
      fail(`${c.ca}: no PEM certificate found in the CA bundle`);
      return { ok: false, issues };
    }
    chain = [leaf, ...(await Promise.all(blocks.slice(1).map(describeCertificate)))];
    caCerts = await Promise.all(caBlocks.map(describeCertificate));
  } catch (err) {
    fail(`cannot parse a certificate of ${c.cert}${c.ca ? ` or ${c.ca}` : ""}: ${(err as Error).message}`);
    return { ok: false, issues };
  }
  const summaries = chain.map(summarize);
  const exposed = inline.key === undefined ? await exposedKeyWarning(c.key) : undefined;
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
      leaf: summaries[0]!,
      chain: summaries,
      chainProblems: await chainOrderProblems(chain),
      anchoredAt: chain[chain.length - 1]!.x509.issuer,
      clientCa: caCerts.map(summarize),
    },
  };
}

/**
 * Whether the certificate is valid for `host`, as a client checks it (SAN DNS names, or the CN
 * when there is no SAN; see certificateCoversHost). `certPem` is a provisioned credential's.
 */
export function certificateCovers(certPem: string, host: string): boolean {
  return certificateCoversHost(readCertificate(pemDer(certPem, "CERTIFICATE")[0]!), host);
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

async function readText(file: string, what: string, fail: (m: string) => void): Promise<string | undefined> {
  try {
    return await readFileText(file);
  } catch (err) {
    fail(cannotRead(file, err, what));
    return undefined;
  }
}

/** A folder's ca.crt may be absent; any other failure to read it is still reported. */
async function readOptional(file: string, fail: (m: string) => void): Promise<string | undefined> {
  try {
    return await readFileText(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") fail(cannotRead(file, err, "CA bundle"));
    return undefined;
  }
}
