// One certificate, read into the facts `certs inspect` reports, each already in the form
// `openssl x509 -text -noout -fingerprint` prints it.

import { AsnConvert } from "@peculiar/asn1-schema";
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  type Name,
} from "@peculiar/asn1-x509";
import { ECParameters, id_ecPublicKey } from "@peculiar/asn1-ecc";
import { RSAPublicKey, id_RSASSA_PSS, id_rsaEncryption } from "@peculiar/asn1-rsa";
import { X509Certificate } from "./x509.ts";
import {
  CURVES,
  KEY_USAGE_NAMES,
  algorithmName,
  attributeShortName,
  attributeValueText,
  colonHex,
  extendedKeyUsageName,
  onelineName,
  opensslSerial,
} from "./openssl-text.ts";
import { bitLength } from "./private-key.ts";
import { toArrayBuffer } from "./pem.ts";
import { PorticoError } from "../util/errors.ts";
import { opensslIp } from "./host-names.ts";

export interface PublicKeyInfo {
  /** OpenSSL's name of the key algorithm: rsaEncryption, id-ecPublicKey, ED25519. */
  algorithm: string;
  /** "RSA", "EC", "Ed25519", "RSA-PSS", or the algorithm name when unknown. */
  type: string;
  bits?: number;
  curve?: string;
  /** "RSA 2048", "EC P-256", "Ed25519". */
  text: string;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** As OpenSSL prints it: `1049106 (0x100212)` or `f9:52:c4:0d:dc:53:d8:b8`. */
  serialNumber: string;
  /** Lowercase hex of the serial's magnitude, without separators. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** OpenSSL's form: `DNS:example.com`, `IP Address:127.0.0.1`, `email:...`, `URI:...`. */
  subjectAltNames: string[];
  publicKey: PublicKeyInfo;
  signatureAlgorithm: string;
  keyUsage?: { critical: boolean; usages: string[] };
  extendedKeyUsage?: { critical: boolean; usages: string[] };
  basicConstraints?: { critical: boolean; ca: boolean; pathLength?: number };
  fingerprints: { sha1: string; sha256: string };
  /** Issuer and subject are the same name. */
  selfIssued: boolean;
  /** For chain checks: raw pieces and the parsed certificate. */
  der: Uint8Array;
  spki: Uint8Array;
  subjectKey: string;
  issuerKey: string;
  commonNames: string[];
  x509: X509Certificate;
}

export class CertificateParseError extends PorticoError {}

export async function describeCertificate(der: Uint8Array): Promise<CertificateInfo> {
  const facts = readCertificate(der);
  const digest = (hash: string) => crypto.subtle.digest(hash, toArrayBuffer(der));
  const [sha1, sha256] = await Promise.all([digest("SHA-1"), digest("SHA-256")]);
  return { ...facts, fingerprints: { sha1: colonHex(sha1), sha256: colonHex(sha256) } };
}

/**
 * Everything describeCertificate tells but the fingerprints, without awaiting (hashing with
 * Web Crypto is asynchronous), for callers that judge a certificate synchronously.
 */
export function readCertificate(der: Uint8Array): Omit<CertificateInfo, "fingerprints"> {
  let asn: Certificate;
  let x509: X509Certificate;
  try {
    asn = AsnConvert.parse(der, Certificate);
    x509 = new X509Certificate(toArrayBuffer(der));
  } catch (err) {
    throw new CertificateParseError(`not an X.509 certificate: ${(err as Error).message}`, { cause: err });
  }
  const tbs = asn.tbsCertificate;
  const ext = (oid: string) => tbs.extensions?.find((e) => e.extnID === oid);
  const extValue = (e: { extnValue: { buffer: ArrayBuffer; byteOffset: number; byteLength: number } }) =>
    new Uint8Array(e.extnValue.buffer, e.extnValue.byteOffset, e.extnValue.byteLength);

  const spki = new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo));

  const info: Omit<CertificateInfo, "fingerprints"> = {
    subject: onelineName(tbs.subject),
    issuer: onelineName(tbs.issuer),
    serialNumber: opensslSerial(new Uint8Array(tbs.serialNumber)),
    serialHex: serialHex(new Uint8Array(tbs.serialNumber)),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    subjectAltNames: [],
    publicKey: describePublicKey(tbs.subjectPublicKeyInfo),
    signatureAlgorithm: algorithmName(asn.signatureAlgorithm.algorithm),
    selfIssued: nameKey(tbs.subject) === nameKey(tbs.issuer),
    der,
    spki,
    subjectKey: nameKey(tbs.subject),
    issuerKey: nameKey(tbs.issuer),
    commonNames: tbs.subject.flatMap((rdn) =>
      rdn.filter((a) => a.type === "2.5.4.3").map((a) => a.value.toString()),
    ),
    x509,
  };

  const san = ext(id_ce_subjectAltName);
  if (san)
    info.subjectAltNames = AsnConvert.parse(extValue(san), SubjectAlternativeName).map(generalNameText);
  const ku = ext(id_ce_keyUsage);
  if (ku) {
    const bits = AsnConvert.parse(extValue(ku), KeyUsage).toNumber();
    info.keyUsage = { critical: ku.critical, usages: KEY_USAGE_NAMES.filter((_, i) => bits & (1 << i)) };
  }
  const eku = ext(id_ce_extKeyUsage);
  if (eku)
    info.extendedKeyUsage = {
      critical: eku.critical,
      usages: AsnConvert.parse(extValue(eku), ExtendedKeyUsage).map(extendedKeyUsageName),
    };
  const bc = ext(id_ce_basicConstraints);
  if (bc) {
    const v = AsnConvert.parse(extValue(bc), BasicConstraints);
    info.basicConstraints = { critical: bc.critical, ca: v.cA, pathLength: v.pathLenConstraint };
  }
  return info;
}

function describePublicKey(spki: SubjectPublicKeyInfo): PublicKeyInfo {
  const oid = spki.algorithm.algorithm;
  const algorithm = algorithmName(oid);
  if (oid === id_rsaEncryption || oid === id_RSASSA_PSS) {
    const bits = bitLength(new Uint8Array(AsnConvert.parse(spki.subjectPublicKey, RSAPublicKey).modulus));
    const type = oid === id_rsaEncryption ? "RSA" : "RSA-PSS";
    return { algorithm, type, bits, text: `${type} ${bits}` };
  }
  if (oid === id_ecPublicKey) {
    const params = spki.algorithm.parameters;
    const curveOid = params ? AsnConvert.parse(params, ECParameters).namedCurve : undefined;
    const curve = curveOid ? CURVES[curveOid] : undefined;
    const name = curve?.name ?? curveOid ?? "explicit curve";
    return { algorithm, type: "EC", bits: curve?.bits, curve: name, text: `EC ${name}` };
  }
  if (oid === "1.3.101.112") return { algorithm, type: "Ed25519", bits: 256, text: "Ed25519" };
  if (oid === "1.3.101.113") return { algorithm, type: "Ed448", bits: 456, text: "Ed448" };
  return { algorithm, type: algorithm, text: algorithm };
}

/** GENERAL_NAME_print (crypto/x509/v3_san.c) for the SAN list. */
function generalNameText(g: SubjectAlternativeName[number]): string {
  if (g.dNSName !== undefined) return `DNS:${g.dNSName}`;
  if (g.iPAddress !== undefined) return `IP Address:${opensslIp(g.iPAddress)}`;
  if (g.rfc822Name !== undefined) return `email:${g.rfc822Name}`;
  if (g.uniformResourceIdentifier !== undefined) return `URI:${g.uniformResourceIdentifier}`;
  if (g.registeredID !== undefined) return `Registered ID:${g.registeredID}`;
  if (g.directoryName !== undefined) return `DirName:${slashName(g.directoryName)}`;
  if (g.otherName !== undefined) return "othername:<unsupported>";
  if (g.x400Address !== undefined) return "X400Name:<unsupported>";
  return "EdiPartyName:<unsupported>";
}

/** X509_NAME_oneline's `/C=US/O=Example` form, which OpenSSL uses for directory names in a SAN. */
function slashName(name: Name): string {
  return name
    .map((rdn) =>
      rdn
        .map((a) => `/${attributeShortName(a.type)}=${attributeValueText(a.value).replace(/^"(.*)"$/, "$1")}`)
        .join(""),
    )
    .join("");
}

function serialHex(der: Uint8Array): string {
  const hex = Array.from(der, (b) => b.toString(16).padStart(2, "0")).join("");
  return hex.replace(/^(00)+(?=.)/, "");
}

/**
 * A comparison key for names in the spirit of OpenSSL's canonical encoding (x_name.c
 * x509_name_canon): values lowercased, leading and trailing space removed, inner runs of
 * space collapsed; multi-valued RDNs compared as sets.
 */
export function nameKey(name: Name): string {
  return name
    .map((rdn) =>
      rdn
        .map((a) => `${a.type}=${a.value.toString().trim().replace(/\s+/g, " ").toLowerCase()}`)
        .sort()
        .join("+"),
    )
    .join(",");
}
