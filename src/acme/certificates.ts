// The certificates of the ACME lifecycle: the CSR for a fresh key (RFC 8555 §7.4, EC P-256 by
// default), the tls-alpn-01 validation certificate (RFC 8737 §3), and the ARI CertID
// (RFC 9773 §4.1) of an issued certificate. Built with the same stack as `portico certs gen`.

import {
  generateKeyPair,
  pkcs8Pem,
  randomSerial,
  signingAlgorithm,
  type KeyKind,
} from "../certs/generate.ts";
import { pemDer, toArrayBuffer } from "../certs/pem.ts";
import {
  AuthorityKeyIdentifierExtension,
  Extension,
  Name,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
  X509Certificate,
  X509CertificateGenerator,
} from "../certs/x509.ts";
import { b64url } from "./jws.ts";

/** RFC 8737 §3: the id-pe-acmeIdentifier extension, which must be critical. */
export const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";
/** RFC 8737 §6.2: the ALPN protocol of tls-alpn-01 validation handshakes. */
export const ACME_TLS_ALPN = "acme-tls/1";

/** A fresh key and a CSR naming every host as a DNS SAN (the CN is left out, as Let's Encrypt advises). */
export async function keyAndCsr(
  names: string[],
  kind: KeyKind,
): Promise<{ keyPem: string; csrDer: Uint8Array }> {
  const keys = await generateKeyPair(kind);
  const csr = await Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey.algorithm),
    extensions: [
      new SubjectAlternativeNameExtension(names.map((value) => ({ type: "dns" as const, value }))),
    ],
  });
  return { keyPem: await pkcs8Pem(keys.privateKey), csrDer: new Uint8Array(csr.rawData) };
}

/**
 * RFC 8737 §3: a self-signed certificate for exactly `name`, carrying the SHA-256 of the key
 * authorization in a critical acmeIdentifier extension (an OCTET STRING of 32 bytes, DER).
 */
export async function validationCertificate(
  name: string,
  keyAuthorization: string,
): Promise<{ certPem: string; keyPem: string }> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(keyAuthorization)),
  );
  const octetString = new Uint8Array([0x04, 0x20, ...digest]);
  const keys = await generateKeyPair("ec");
  const now = Date.now();
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: new Name([{ CN: [{ utf8String: name }] }]),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 7 * 86_400_000),
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey.algorithm),
    extensions: [
      new SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
      new Extension(ACME_IDENTIFIER_OID, true, octetString),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await pkcs8Pem(keys.privateKey) };
}

export interface LeafFacts {
  notBefore: Date;
  notAfter: Date;
  issuer: string;
  serial: string;
  /** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial DER content); none without AKI. */
  certId?: string;
  names: string[];
}

export function leafFacts(chainPem: string): LeafFacts {
  const der = pemDer(chainPem, "CERTIFICATE")[0];
  if (!der) throw new Error("no certificate in the chain");
  const cert = new X509Certificate(toArrayBuffer(der));
  const aki = cert.getExtension(AuthorityKeyIdentifierExtension)?.keyId;
  const san = cert.getExtension(SubjectAlternativeNameExtension);
  const names = (san?.names.items ?? []).filter((n) => n.type === "dns").map((n) => n.value);
  return {
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    issuer: cert.issuer,
    serial: cert.serialNumber,
    certId: aki ? `${b64url(Buffer.from(aki, "hex"))}.${b64url(serialBytes(cert.serialNumber))}` : undefined,
    names,
  };
}

/** The serial's INTEGER content octets: a leading 00 is kept when the high bit is set. */
function serialBytes(hex: string): Uint8Array {
  const even = hex.length % 2 ? `0${hex}` : hex;
  const b = Buffer.from(even, "hex");
  return b[0]! & 0x80 ? new Uint8Array([0, ...b]) : new Uint8Array(b);
}
