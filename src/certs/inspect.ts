// Judges what read-source.ts read: labels every certificate, checks the chain (and the CA file when one
// is given), whether the private key belongs to the certificate, and what a credential's ca.crt
// is. The result is a plain report that render.ts prints as text or JSON.

import { checkChain, signedBy, type ChainCheck, type LabeledCertificate } from "./chain.ts";
import type { CertificateInfo } from "./describe.ts";
import { certificateCoversHost } from "./host-names.ts";
import type { LoadedPart, LoadedSource, SourceKind } from "./read-source.ts";
import { keyMatchesSpki, type PrivateKeyDetails } from "./private-key.ts";
import { DAY_MS, daysLeft } from "../util/days.ts";

export interface CertificateEntry extends LabeledCertificate {
  selfSigned: boolean;
  daysLeft: number;
  /** Whole days until notBefore; 0 once valid. */
  daysUntilValid: number;
  status: "valid" | "expired" | "not yet valid";
}

export interface FileRole {
  name: string;
  role: string;
  summary: string;
}

export interface ServerFacts {
  host: string;
  port: number;
  servername?: string;
  protocol?: string;
  alpn?: string;
  cipher?: string;
  /** Whether the leaf covers the name the client asked for (SNI, else the host). */
  nameMatches?: boolean;
  /** Without --cacert: the runtime's verdict against its default trust store. */
  defaultTrust?: { authorized: boolean; error?: string };
}

export interface InspectReport {
  source: string;
  kind: SourceKind | "server";
  encoding?: "PEM" | "DER";
  secret?: { name?: string; namespace?: string; type?: string };
  server?: ServerFacts;
  /** The files of a folder or entries of a Secret, and what each is. */
  files: FileRole[];
  certificates: CertificateEntry[];
  key?: { file: string; details: PrivateKeyDetails; matches?: boolean; against?: string };
  /** The certificate chain, checked when it has more than one certificate or --ca is given. */
  chain?: ChainCheck;
  /** A credential's ca.crt, when it is itself a chain. */
  caChain?: ChainCheck;
  /** A credential folder or Secret: whether tls.crt is issued by (a certificate in) ca.crt. */
  issuedByCa?: { ok: boolean; detail: string };
  errors: string[];
  notes: string[];
  ok: boolean;
}

export interface InspectOptions {
  now: Date;
  /** --ca FILE: the chain must end in it. */
  ca?: { file: string; certs: LabeledCertificate[] };
}

export async function inspectSource(src: LoadedSource, opts: InspectOptions): Promise<InspectReport> {
  const plain = src.kind === "file";
  const label = (part: LoadedPart, i: number) => (plain ? `[${i + 1}]` : `${part.name} [${i + 1}]`);
  const report: InspectReport = {
    source: src.source,
    kind: src.kind,
    encoding: src.encoding,
    secret: src.secret,
    files: [],
    certificates: [],
    errors: [...src.errors],
    notes: [],
    ok: true,
  };
  for (const part of [src.certificate, src.key, src.ca]) {
    if (!part) continue;
    report.errors.push(...part.errors);
    report.notes.push(...part.notes);
  }

  const chain = src.certificate
    ? await entries(
        src.certificate.certs.map((cert, i) => ({ label: label(src.certificate!, i), cert })),
        opts.now,
      )
    : [];
  const caCerts = src.ca
    ? await entries(
        src.ca.certs.map((cert, i) => ({ label: label(src.ca!, i), cert })),
        opts.now,
      )
    : [];
  report.certificates = [...chain, ...caCerts];

  if (chain.length > 0) report.chain = await chainCheck(chain, opts, report.notes, src.certificate!.name);
  if (caCerts.length > 1 && !isRootBundle(caCerts))
    report.caChain = await checkChain(caCerts, { now: opts.now });
  if (chain.length > 0 && caCerts.length > 0) {
    const anchor = (await checkChain(chain, { now: opts.now, ca: { file: src.ca!.name, certs: caCerts } }))
      .anchor!;
    report.issuedByCa = { ok: anchor.ok, detail: anchor.detail };
  }

  const keyPart = src.key;
  const key = keyPart?.keys[0];
  if (keyPart && keyPart.keys.length > 1)
    report.notes.push(`${keyPart.name}: ${keyPart.keys.length} private keys; only the first is compared`);
  if (key) {
    report.key = { file: keyPart.name, details: key };
    if (chain[0]) {
      report.key.against = chain[0].label;
      report.key.matches = await keyMatchesSpki(key, chain[0].cert.spki);
      if (!report.key.matches)
        report.errors.push(
          `the private key in ${keyPart.name} does not match ${chain[0].label} (their public keys differ)`,
        );
    }
  }

  if (!plain) report.files = fileRoles(src, report);
  if (plain && chain.length === 0 && !key && report.errors.length === 0)
    report.errors.push(`${src.source}: no certificate or private key in it`);
  report.ok = report.errors.length === 0 && (report.chain?.ok ?? true) && (report.caChain?.ok ?? true);
  return report;
}

/** The certificates a server presented, with what the handshake showed. */
export async function inspectServer(
  presented: CertificateInfo[],
  facts: ServerFacts,
  opts: InspectOptions,
): Promise<InspectReport> {
  const certs = await entries(
    presented.map((cert, i) => ({ label: `[${i + 1}]`, cert })),
    opts.now,
  );
  const notes: string[] = [];
  const report: InspectReport = {
    source: `${facts.host}:${facts.port}`,
    kind: "server",
    server: facts,
    files: [],
    certificates: certs,
    errors: [],
    notes,
    ok: true,
  };
  if (certs.length === 0) report.errors.push(`${report.source} presented no certificate`);
  else {
    report.chain = await chainCheck(certs, opts, notes, "the server's chain");
    const name = facts.servername ?? facts.host;
    facts.nameMatches = certificateCoversHost(certs[0]!.cert, name);
    if (!facts.nameMatches) {
      const leaf = certs[0]!.cert;
      const names = leaf.subjectAltNames.join(", ") || `no SANs, CN ${leaf.commonNames.join(", ")}`;
      report.errors.push(`[1] is not valid for ${name} (${names})`);
    }
  }
  report.ok = report.errors.length === 0 && (report.chain?.ok ?? true);
  return report;
}

async function chainCheck(
  chain: CertificateEntry[],
  opts: InspectOptions,
  notes: string[],
  what: string,
): Promise<ChainCheck | undefined> {
  if (chain.length > 1 && isRootBundle(chain)) {
    notes.push(`${what}: ${chain.length} self-signed certificates, a CA bundle rather than a chain`);
    return undefined;
  }
  if (chain.length > 1 || opts.ca) return checkChain(chain, opts);
  return undefined;
}

function isRootBundle(certs: CertificateEntry[]): boolean {
  return certs.every((c) => c.cert.selfIssued);
}

async function entries(list: LabeledCertificate[], now: Date): Promise<CertificateEntry[]> {
  return Promise.all(
    list.map(async ({ label, cert }) => ({
      label,
      cert,
      selfSigned: cert.selfIssued && (await signedBy(cert, cert)),
      daysLeft: daysLeft(cert.notAfter, now),
      daysUntilValid: Math.max(0, Math.ceil((cert.notBefore.getTime() - now.getTime()) / DAY_MS)),
      status: now < cert.notBefore ? "not yet valid" : now > cert.notAfter ? "expired" : "valid",
    })),
  );
}

function fileRoles(src: LoadedSource, report: InspectReport): FileRole[] {
  const roles: FileRole[] = [];
  const count = (n: number) => `${n} certificate${n === 1 ? "" : "s"}`;
  if (src.certificate) {
    const n = src.certificate.certs.length;
    const role = src.kind === "CA folder" ? "CA certificate" : "certificate";
    roles.push({ name: src.certificate.name, role, summary: n === 1 ? role : `${role} chain, ${count(n)}` });
  }
  if (src.key) {
    const k = report.key;
    const match =
      k?.matches === undefined
        ? ""
        : k.matches
          ? `; matches ${src.certificate!.name}`
          : `; does NOT match ${src.certificate!.name}`;
    roles.push({
      name: src.key.name,
      role: "private key",
      summary: k ? `private key, ${k.details.text}, ${k.details.format}${match}` : "private key (unreadable)",
    });
  }
  if (src.ca) {
    const by = report.issuedByCa
      ? report.issuedByCa.ok
        ? `; ${src.certificate!.name} is issued by it`
        : `; ${src.certificate!.name} is not issued by it`
      : "";
    roles.push({
      name: src.ca.name,
      role: "client CA",
      summary: `CA for client certificates (MUTUAL), ${count(src.ca.certs.length)}${by}`,
    });
  }
  return roles;
}
