// mkcert's job in Web Crypto: a development CA, and server or client certificates it issues,
// with what browsers, curl and Envoy expect of them (RFC 5280 profiles as mkcert writes them):
// EC P-256 by default (RSA 2048 on request), random 128-bit serials, SANs for every name,
// key identifiers, and a CA restricted to issuing end-entity certificates (pathlen:0).

import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
  type Extension,
  type JsonGeneralName,
  type JsonNameParams,
} from "./x509.ts";
import { describeCertificate } from "./describe.ts";
import { pemDer, toPem } from "./pem.ts";
import {
  importSigningKey,
  keyMatchesSpki,
  readPrivateKeyPem,
  type PrivateKeyDetails,
} from "./private-key.ts";
import { PorticoError } from "../util/errors.ts";
import { DAY_MS } from "../util/days.ts";

export type KeyKind = "ec" | "rsa";

export interface Issued {
  cert: X509Certificate;
  certPem: string;
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  keyPem: string;
}

/** A CA able to sign: its certificate (PEM as found, possibly with more certificates) and key. */
export interface SigningCa {
  cert: X509Certificate;
  /** Everything in ca.crt, copied next to issued certificates. */
  certPem: string;
  key: CryptoKey;
  keyDetails: PrivateKeyDetails;
}

export interface Validity {
  /** Default: now. */
  notBefore?: Date;
  /** Default: notBefore + days. */
  notAfter?: Date;
  days?: number;
}

export class GenerateError extends PorticoError {}

export const DEFAULT_CA_DAYS = 3650;
/**
 * 825 days: the longest validity Apple platforms accept for TLS server certificates (mkcert's reason too).
 */
export const DEFAULT_LEAF_DAYS = 825;

export async function generateCa(
  opts: Validity & { name?: string; kind?: KeyKind; subject?: JsonNameParams },
): Promise<Issued> {
  const keys = await generateKeyPair(opts.kind ?? "ec");
  const { notBefore, notAfter } = validity(opts, DEFAULT_CA_DAYS);
  const name = opts.name ?? "Portico Dev CA";
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: new Name(
      opts.subject ?? [{ O: [{ utf8String: "Portico development CA" }] }, { CN: [{ utf8String: name }] }],
    ),
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey.algorithm),
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(
        KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature,
        true,
      ),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, certPem: cert.toString("pem") + "\n", keyPem: await pkcs8Pem(keys.privateKey) };
}

/**
 * A server (EKU serverAuth) or client (EKU clientAuth) certificate for `names`, signed by `ca`.
 * Host names become DNS SANs and addresses IP SANs; for a client, `a@b` becomes an email SAN and
 * `spiffe://...` (any URI) a URI SAN. The CN is the first name.
 */
export async function generateLeaf(
  opts: Validity & {
    ca: SigningCa;
    usage: "server" | "client";
    names: string[];
    kind?: KeyKind;
    subject?: JsonNameParams;
  },
): Promise<Issued> {
  if (opts.names.length === 0) throw new GenerateError(`a ${opts.usage} certificate needs at least one name`);
  const sans = opts.names.map((n) => sanFor(n, opts.usage));
  const kind = opts.kind ?? "ec";
  const keys = await generateKeyPair(kind);
  const { notBefore, notAfter } = validity(opts, DEFAULT_LEAF_DAYS);
  const caSki = opts.ca.cert.getExtension(SubjectKeyIdentifierExtension)?.keyId;
  const extensions: Extension[] = [
    new BasicConstraintsExtension(false, undefined, true),
    // keyEncipherment only for RSA: TLS 1.2 RSA key exchange; meaningless for EC keys.
    new KeyUsagesExtension(
      KeyUsageFlags.digitalSignature | (kind === "rsa" ? KeyUsageFlags.keyEncipherment : 0),
      true,
    ),
    new ExtendedKeyUsageExtension([
      opts.usage === "server" ? ExtendedKeyUsage.serverAuth : ExtendedKeyUsage.clientAuth,
    ]),
    await SubjectKeyIdentifierExtension.create(keys.publicKey),
    caSki
      ? new AuthorityKeyIdentifierExtension(caSki)
      : await AuthorityKeyIdentifierExtension.create(opts.ca.cert.publicKey),
  ];
  if (sans.some((s) => s))
    extensions.push(
      new SubjectAlternativeNameExtension(sans.filter((s): s is JsonGeneralName => s !== undefined)),
    );
  const cert = await X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: new Name(
      opts.subject ?? [
        { O: [{ utf8String: `Portico development certificate` }] },
        { CN: [{ utf8String: opts.names[0]! }] },
      ],
    ),
    issuer: opts.ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: opts.ca.key,
    signingAlgorithm: signingAlgorithm(opts.ca.key.algorithm),
    extensions,
  });
  return { cert, certPem: cert.toString("pem") + "\n", keyPem: await pkcs8Pem(keys.privateKey) };
}

/** Reads a CA from the text of ca.crt and ca.key, refusing a key that is not the certificate's. */
export async function loadSigningCa(certPem: string, keyPem: string, where = "the CA"): Promise<SigningCa> {
  const [certDer] = pemDer(certPem, "CERTIFICATE");
  if (!certDer) throw new GenerateError(`${where}: no certificate in ca.crt`);
  const info = await describeCertificate(certDer);
  if (!info.basicConstraints?.ca)
    throw new GenerateError(
      `${where}: ca.crt is not a CA certificate (${info.subject} has ` +
        `${info.basicConstraints ? "CA:FALSE" : "no basic constraints"})`,
    );
  let keyDetails: PrivateKeyDetails;
  try {
    keyDetails = await readPrivateKeyPem(keyPem);
  } catch (err) {
    throw new GenerateError(`${where}: ca.key: ${(err as Error).message}`);
  }
  if (!(await keyMatchesSpki(keyDetails, info.spki)))
    throw new GenerateError(`${where}: ca.key does not match ca.crt (their public keys differ)`);
  const key = await importSigningKey(keyDetails);
  return { cert: info.x509, certPem, key, keyDetails };
}

export async function generateKeyPair(kind: KeyKind): Promise<CryptoKeyPair> {
  const params =
    kind === "rsa"
      ? ({
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        } as RsaHashedKeyGenParams)
      : ({ name: "ECDSA", namedCurve: "P-256" } as EcKeyGenParams);
  return (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** SHA-256 with RSA and P-256, SHA-384 with P-384, SHA-512 with P-521 (the usual pairings, RFC 5480 §4). */
export function signingAlgorithm(alg: KeyAlgorithm): Algorithm | EcdsaParams {
  if (alg.name === "ECDSA") {
    const curve = (alg as EcKeyAlgorithm).namedCurve;
    return {
      name: "ECDSA",
      hash: curve === "P-384" ? "SHA-384" : curve === "P-521" ? "SHA-512" : "SHA-256",
    } as EcdsaParams;
  }
  if (alg.name === "RSASSA-PKCS1-v1_5") return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as Algorithm;
  return { name: alg.name };
}

function validity(v: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  // Whole seconds: certificates carry no fractions, and the printed dates should be the real ones.
  const notBefore = new Date(Math.floor((v.notBefore ?? new Date()).getTime() / 1000) * 1000);
  const notAfter = v.notAfter ?? new Date(notBefore.getTime() + (v.days ?? defaultDays) * DAY_MS);
  if (notAfter <= notBefore)
    throw new GenerateError(
      `the certificate would end (${notAfter.toISOString()}) before it starts (${notBefore.toISOString()})`,
    );
  return { notBefore, notAfter };
}

/** 16 random bytes, first bit clear so the INTEGER stays positive and 16 bytes long (RFC 5280 §4.1.2.2). */
export function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x40;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_NAME =
  /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

function sanFor(name: string, usage: "server" | "client"): JsonGeneralName | undefined {
  if (IPV4.test(name)) return { type: "ip", value: name };
  if (name.includes(":") && /^[0-9a-f:.]+$/i.test(name)) return { type: "ip", value: name };
  // A client's one-word name ("alice") is a CN, not a host name.
  if (DNS_NAME.test(name) && (usage === "server" || name.includes(".")))
    return { type: "dns", value: name.replace(/\.$/, "") };
  if (usage === "client") {
    if (/^[^@\s]+@[^@\s]+$/.test(name)) return { type: "email", value: name };
    if (/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(name)) return { type: "url", value: name };
    return undefined; // a plain name such as "alice": CN only
  }
  throw new GenerateError(`"${name}" is neither a host name nor an IP address`);
}

export async function pkcs8Pem(key: CryptoKey): Promise<string> {
  return toPem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", key));
}
