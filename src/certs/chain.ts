// Whether a chain of certificates holds together: each one issued (name and signature) by the
// next, issuers that are CAs, everything within its validity period, and, when a CA file is
// given, a top that is that CA or is issued by it (checkChain, for `portico certs inspect`);
// and the smaller question startup asks of a credential's certificate file (chainOrderProblems).
// Signatures are checked with Web Crypto.

import type { CertificateInfo } from "./describe.ts";
import { bytesEqual } from "./pem.ts";
import { DAY_MS } from "../util/days.ts";

/** One certificate of a chain, or of a CA file, with the label reports use: "[2]", "ca.crt [1]". */
export interface LabeledCertificate {
  label: string;
  cert: CertificateInfo;
}

export interface LinkCheck {
  child: string;
  parent: string;
  ok: boolean;
  problems: string[];
}

export interface ChainCheck {
  /** cert i issued by cert i+1, in chain order. */
  links: LinkCheck[];
  /** Certificates outside their validity period, with the reason. */
  validity: string[];
  /**
   * How the chain ends without a CA file: a self-signed root (signature checked) or an issuer not included.
   */
  top: { label: string; selfSigned: boolean; ok: boolean; detail: string };
  /** Present when a CA file was given: whether the chain ends in it. */
  anchor?: { file: string; ok: boolean; detail: string; links: LinkCheck[] };
  ok: boolean;
}

export async function checkChain(
  chain: LabeledCertificate[],
  opts: { now: Date; ca?: { file: string; certs: LabeledCertificate[] } },
): Promise<ChainCheck> {
  const links: LinkCheck[] = [];
  for (let i = 0; i + 1 < chain.length; i++) links.push(await checkLink(chain[i]!, chain[i + 1]!, i));

  const validity: string[] = [];
  for (const c of chain) validity.push(...validityProblems(c, opts.now));

  const last = chain[chain.length - 1]!;
  let top: ChainCheck["top"];
  if (last.cert.selfIssued) {
    const sig = await signedBy(last.cert, last.cert);
    top = {
      label: last.label,
      selfSigned: true,
      ok: sig,
      detail: sig
        ? "self-signed root, signature verifies"
        : "self-issued, but its signature does not verify with its own key",
    };
  } else
    top = {
      label: last.label,
      selfSigned: false,
      ok: true,
      detail: `issued by ${last.cert.issuer} (not included)`,
    };

  let anchor: ChainCheck["anchor"];
  if (opts.ca) anchor = await checkAnchor(last, chain.length - 1, opts.ca, opts.now);

  const ok = links.every((l) => l.ok) && validity.length === 0 && top.ok && (anchor?.ok ?? true);
  return { links, validity, top, anchor, ok };
}

/** `intermediatesBelow`: non-leaf certificates between the leaf and `parent` (for pathlen). */
async function checkLink(
  child: LabeledCertificate,
  parent: LabeledCertificate,
  intermediatesBelow: number,
): Promise<LinkCheck> {
  const problems: string[] = [];
  if (child.cert.issuerKey !== parent.cert.subjectKey)
    problems.push(
      `issuer of ${child.label} (${child.cert.issuer}) is not the subject of ${parent.label} ` +
        `(${parent.cert.subject})`,
    );
  if (!(await signedBy(child.cert, parent.cert)))
    problems.push(`signature of ${child.label} does not verify with the public key of ${parent.label}`);
  const bc = parent.cert.basicConstraints;
  if (!bc?.ca) problems.push(`${parent.label} is not a CA (${bc ? "CA:FALSE" : "no basic constraints"})`);
  else if (bc.pathLength !== undefined && intermediatesBelow > bc.pathLength)
    problems.push(
      `${parent.label} allows ${bc.pathLength} intermediate CA(s) below it (pathlen:${bc.pathLength}), the ` +
        `chain has ${intermediatesBelow}`,
    );
  const ku = parent.cert.keyUsage;
  if (ku && !ku.usages.includes("Certificate Sign"))
    problems.push(`${parent.label}'s key usage does not include Certificate Sign`);
  return { child: child.label, parent: parent.label, ok: problems.length === 0, problems };
}

async function checkAnchor(
  top: LabeledCertificate,
  topIndex: number,
  ca: { file: string; certs: LabeledCertificate[] },
  now: Date,
): Promise<NonNullable<ChainCheck["anchor"]>> {
  const same = ca.certs.find((a) => bytesEqual(a.cert.der, top.cert.der));
  if (same) return { file: ca.file, ok: true, detail: `${top.label} is ${same.label}`, links: [] };

  const candidates = ca.certs.filter((a) => a.cert.subjectKey === top.cert.issuerKey);
  for (const parent of candidates) {
    if (!(await signedBy(top.cert, parent.cert))) continue;
    // Found the issuer; follow it up through the CA file for as long as issuers are there.
    const links = [await checkLink(top, parent, topIndex)];
    const problems = validityProblems(parent, now);
    let current = parent;
    const seen = new Set([current]);
    while (!current.cert.selfIssued) {
      const next = ca.certs.find((a) => !seen.has(a) && a.cert.subjectKey === current.cert.issuerKey);
      if (!next) break;
      links.push(await checkLink(current, next, topIndex + links.length));
      problems.push(...validityProblems(next, now));
      seen.add(next);
      current = next;
    }
    const ok = links.every((l) => l.ok) && problems.length === 0;
    const detail = ok
      ? `${top.label} is issued by ${parent.label} (${parent.cert.subject})`
      : [...links.flatMap((l) => l.problems), ...problems].join("; ");
    return { file: ca.file, ok, detail, links };
  }
  const detail =
    candidates.length > 0
      ? `${candidates.map((c) => c.label).join(", ")} has the name of ${top.label}'s issuer, but ` +
        `${top.label}'s signature does not verify with its key`
      : `none of its certificates is ${top.label}'s issuer, ${top.cert.issuer}`;
  return { file: ca.file, ok: false, detail, links: [] };
}

function validityProblems(c: LabeledCertificate, now: Date): string[] {
  const { notBefore, notAfter } = c.cert;
  if (now < notBefore)
    return [
      `${c.label} is not valid yet (from ${notBefore.toISOString()}, in ` +
        `${Math.ceil((notBefore.getTime() - now.getTime()) / DAY_MS)} days)`,
    ];
  if (now > notAfter)
    return [
      `${c.label} expired on ${notAfter.toISOString()} ` +
        `(${Math.floor((now.getTime() - notAfter.getTime()) / DAY_MS)} days ago)`,
    ];
  return [];
}

/** Whether `parent`'s key verifies `child`'s signature (Web Crypto). */
export async function signedBy(child: CertificateInfo, parent: CertificateInfo): Promise<boolean> {
  try {
    return await child.x509.verify({ publicKey: parent.x509.publicKey, signatureOnly: true });
  } catch {
    // An algorithm Web Crypto does not support, or keys of different types.
    return false;
  }
}

/**
 * What startup asks of a server's certificate file: each certificate issued (name and
 * signature) by the one after it, the order RFC 8446 §4.4.2 requires (the server's own
 * certificate first). Unlike checkChain it judges neither validity (startup has its own rules,
 * --allow-expired and --warn-days) nor CA constraints, so a chain clients accept never stops
 * startup. Names are those of the parsed certificate (`CN=a, O=b`), as startup messages print them.
 */
export async function chainOrderProblems(chain: CertificateInfo[]): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i]!;
    const next = chain[i + 1]!;
    const which = `certificate ${i + 1} (${cert.x509.subject})`;
    if (cert.issuerKey !== next.subjectKey) {
      const j = chain.findIndex((c) => c.subjectKey === cert.issuerKey);
      problems.push(
        j >= 0
          ? `out of order: ${which} is issued by certificate ${j + 1}, not by the one after it; ` +
              "list the leaf first, then each issuer"
          : `${which} is issued by ${cert.x509.issuer}, but certificate ${i + 2} is ${next.x509.subject}`,
      );
      continue;
    }
    if (!(await signedBy(cert, next))) problems.push(`${which} is not signed by certificate ${i + 2}'s key`);
  }
  return problems;
}
