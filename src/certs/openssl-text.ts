// How `openssl x509 -text -noout` (OpenSSL 3.0) writes the parts of a certificate, so that what
// Portico prints can be compared with it field for field: names, times, serial numbers,
// fingerprints and the object names OpenSSL uses.

import { AsnConvert } from "@peculiar/asn1-schema";
import { Name, type AttributeValue } from "@peculiar/asn1-x509";

/**
 * A distinguished name as `openssl x509 -text` prints it by default (XN_FLAG_ONELINE:
 * `C = US, ST = Denial, O = Dis, CN = webapp.istioinaction.io`): entries in certificate order,
 * short names, ` = `, RDNs joined by `, ` and the parts of a multi-valued RDN by ` + `.
 */
export function onelineName(name: Name): string {
  return name
    .map((rdn) =>
      rdn.map((atv) => `${attributeShortName(atv.type)} = ${attributeValueText(atv.value)}`).join(" + "),
    )
    .join(", ");
}

export function onelineNameFromDer(der: ArrayBuffer): string {
  return onelineName(AsnConvert.parse(der, Name));
}

/** OpenSSL's short names (OBJ_nid2sn) for the attribute types of names; others print as the dotted OID. */
const ATTRIBUTE_SN: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.13": "description",
  "2.5.4.15": "businessCategory",
  "2.5.4.16": "postalAddress",
  "2.5.4.17": "postalCode",
  "2.5.4.18": "postOfficeBox",
  "2.5.4.20": "telephoneNumber",
  "2.5.4.41": "name",
  "2.5.4.42": "GN",
  "2.5.4.43": "initials",
  "2.5.4.44": "generationQualifier",
  "2.5.4.45": "x500UniqueIdentifier",
  "2.5.4.46": "dnQualifier",
  "2.5.4.65": "pseudonym",
  "2.5.4.72": "role",
  "2.5.4.97": "organizationIdentifier",
  "1.2.840.113549.1.9.1": "emailAddress",
  "1.2.840.113549.1.9.2": "unstructuredName",
  "1.2.840.113549.1.9.8": "unstructuredAddress",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
  "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
  "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
};

export function attributeShortName(oid: string): string {
  return ATTRIBUTE_SN[oid] ?? oid;
}

/**
 * One attribute value with OpenSSL's ASN1_STRFLGS_RFC2253 | ASN1_STRFLGS_ESC_QUOTE escaping
 * (crypto/asn1/a_strex.c do_esc_char): characters that RFC 2253 would escape make the whole
 * value quoted instead, except `"` and `\` which get a backslash; control characters and every
 * byte of a non-ASCII character's UTF-8 encoding print as `\XX`; types that are not strings
 * print as `#` and the hex of their DER encoding.
 */
export function attributeValueText(v: AttributeValue): string {
  const text =
    v.utf8String ??
    v.printableString ??
    v.ia5String ??
    v.teletexString ??
    v.bmpString ??
    v.universalString ??
    (v.anyValue ? anyString(v.anyValue) : undefined);
  if (text === undefined) return v.anyValue ? `#${hexUpper(new Uint8Array(v.anyValue))}` : "";
  return escapeValue(text);
}

// Universal tags of the string types OpenSSL prints as text (a_strex.c tag2nbyte).
const ONE_BYTE_STRING_TAGS = new Set([18, 19, 20, 22, 23, 24, 26, 27]);

/** Decodes a string type the ASN.1 schema leaves as raw DER (NumericString, VisibleString, ...). */
function anyString(der: ArrayBuffer): string | undefined {
  const b = new Uint8Array(der);
  if (b.length < 2) return undefined;
  const tag = b[0]!;
  let off = 2;
  let len = b[1]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
    off = 2 + n;
  }
  const body = b.subarray(off, off + len);
  if (tag === 12) return new TextDecoder().decode(body);
  if (ONE_BYTE_STRING_TAGS.has(tag)) return String.fromCharCode(...body);
  if (tag === 30) {
    let s = "";
    for (let i = 0; i + 1 < body.length; i += 2) s += String.fromCharCode((body[i]! << 8) | body[i + 1]!);
    return s;
  }
  if (tag === 28) {
    let s = "";
    for (let i = 0; i + 3 < body.length; i += 4)
      s += String.fromCodePoint(
        ((body[i]! << 24) | (body[i + 1]! << 16) | (body[i + 2]! << 8) | body[i + 3]!) >>> 0,
      );
    return s;
  }
  return undefined;
}

// crypto/asn1/charmap.h for 7-bit characters, reduced to the flags that matter here.
const ESC_2253 = 1; // RFC 2253 special: backslash, or quotes when ESC_QUOTE is also set
const ESC_CTRL = 2;
const ESC_QUOTE = 8;
const FIRST_ESC = 0x20; // special only as the first character
const LAST_ESC = 0x40; // special only as the last character

function charType(c: number): number {
  if (c < 0x20 || c === 0x7f) return ESC_CTRL;
  switch (String.fromCharCode(c)) {
    case " ":
      return FIRST_ESC | LAST_ESC | ESC_QUOTE;
    case "#":
      return FIRST_ESC | ESC_QUOTE;
    case '"':
    case "\\":
      return ESC_2253;
    case "+":
    case ",":
    case ";":
    case "<":
    case ">":
      return ESC_2253 | ESC_QUOTE;
    default:
      return 0;
  }
}

function escapeValue(text: string): string {
  const chars = Array.from(text);
  let quotes = false;
  let out = "";
  chars.forEach((ch, i) => {
    // OpenSSL decides "last" after "first", so a one-character value only gets the last-character rule.
    const position = i === chars.length - 1 ? LAST_ESC : i === 0 ? FIRST_ESC : 0;
    for (const byte of new TextEncoder().encode(ch)) {
      if (byte > 0x7f) {
        out += `\\${hex2(byte)}`;
        continue;
      }
      const flags = charType(byte) & (ESC_2253 | ESC_CTRL | ESC_QUOTE | position);
      if (flags & (ESC_2253 | FIRST_ESC | LAST_ESC)) {
        if (flags & ESC_QUOTE) {
          quotes = true;
          out += String.fromCharCode(byte);
        } else out += `\\${String.fromCharCode(byte)}`;
      } else if (flags & ESC_CTRL) out += `\\${hex2(byte)}`;
      else out += String.fromCharCode(byte);
    }
  });
  return quotes ? `"${out}"` : out;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** ASN1_TIME_print: `Jul  4 12:49:32 2021 GMT` (day padded with a space). */
export function opensslTime(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, "0");
  const ms = d.getUTCMilliseconds();
  const frac = ms ? `.${String(ms).padStart(3, "0").replace(/0+$/, "")}` : "";
  return (
    `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}${frac} ${d.getUTCFullYear()} ` +
    `GMT`
  );
}

/**
 * The serial number as X509_print_ex writes it: `1049106 (0x100212)` when it fits a signed
 * 64-bit long, otherwise the bytes in lowercase hex joined by `:` (`f9:52:c4:0d:dc:53:d8:b8`).
 * `der` is the INTEGER's content (two's complement, as in the certificate).
 */
export function opensslSerial(der: Uint8Array): string {
  const negative = der.length > 0 && (der[0]! & 0x80) !== 0;
  let mag = negative ? twosComplementMagnitude(der) : der;
  let start = 0;
  while (start < mag.length - 1 && mag[start] === 0) start++;
  mag = mag.subarray(start);
  let value = 0n;
  for (const b of mag) value = (value << 8n) | BigInt(b);
  const limit = negative ? 1n << 63n : (1n << 63n) - 1n;
  if (mag.length <= 8 && value <= limit && !(negative && value === 1n)) {
    const sign = negative ? "-" : "";
    return `${sign}${value} (${sign}0x${value.toString(16)})`;
  }
  return `${negative ? "(Negative)" : ""}${Array.from(mag, hex2lower).join(":")}`;
}

function twosComplementMagnitude(der: Uint8Array): Uint8Array {
  const out = new Uint8Array(der.length);
  let carry = 1;
  for (let i = der.length - 1; i >= 0; i--) {
    const v = (~der[i]! & 0xff) + carry;
    out[i] = v & 0xff;
    carry = v >> 8;
  }
  return out;
}

/** `04:66:14:2A:...`, as `openssl x509 -fingerprint` prints a digest. */
export function colonHex(bytes: Uint8Array | ArrayBuffer): string {
  return Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), hex2).join(":");
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, "0");
}

function hex2lower(b: number): string {
  return b.toString(16).padStart(2, "0");
}

function hexUpper(bytes: Uint8Array): string {
  return Array.from(bytes, hex2).join("");
}

/** OpenSSL's long names (what `-text` prints) for signature and public-key algorithms. */
const ALGORITHM_LN: Record<string, string> = {
  "1.2.840.113549.1.1.1": "rsaEncryption",
  "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
  "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.113549.1.1.10": "rsassaPss",
  "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
  "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
  "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
  "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
  "1.2.840.10045.2.1": "id-ecPublicKey",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
  "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
  "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
  "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
  "1.2.840.10040.4.1": "dsaEncryption",
  "1.2.840.10040.4.3": "dsaWithSHA1",
  "2.16.840.1.101.3.4.3.2": "dsa_with_SHA256",
  "1.3.101.110": "X25519",
  "1.3.101.111": "X448",
  "1.3.101.112": "ED25519",
  "1.3.101.113": "ED448",
};

export function algorithmName(oid: string): string {
  return ALGORITHM_LN[oid] ?? oid;
}

/**
 * Named curves: the NIST name where there is one (what OpenSSL prints as `NIST CURVE:`), else OpenSSL's short
 * name.
 */
export const CURVES: Record<string, { name: string; bits: number }> = {
  "1.2.840.10045.3.1.1": { name: "P-192", bits: 192 },
  "1.3.132.0.33": { name: "P-224", bits: 224 },
  "1.2.840.10045.3.1.7": { name: "P-256", bits: 256 },
  "1.3.132.0.34": { name: "P-384", bits: 384 },
  "1.3.132.0.35": { name: "P-521", bits: 521 },
  "1.3.132.0.10": { name: "secp256k1", bits: 256 },
  "1.3.36.3.3.2.8.1.1.7": { name: "brainpoolP256r1", bits: 256 },
  "1.3.36.3.3.2.8.1.1.11": { name: "brainpoolP384r1", bits: 384 },
  "1.3.36.3.3.2.8.1.1.13": { name: "brainpoolP512r1", bits: 512 },
};

/** X509v3 Key Usage bit names, in bit order (v3_bitst.c). */
export const KEY_USAGE_NAMES = [
  "Digital Signature",
  "Non Repudiation",
  "Key Encipherment",
  "Data Encipherment",
  "Key Agreement",
  "Certificate Sign",
  "CRL Sign",
  "Encipher Only",
  "Decipher Only",
];

const EKU_LN: Record<string, string> = {
  "1.3.6.1.5.5.7.3.1": "TLS Web Server Authentication",
  "1.3.6.1.5.5.7.3.2": "TLS Web Client Authentication",
  "1.3.6.1.5.5.7.3.3": "Code Signing",
  "1.3.6.1.5.5.7.3.4": "E-mail Protection",
  "1.3.6.1.5.5.7.3.5": "IPSec End System",
  "1.3.6.1.5.5.7.3.6": "IPSec Tunnel",
  "1.3.6.1.5.5.7.3.7": "IPSec User",
  "1.3.6.1.5.5.7.3.8": "Time Stamping",
  "1.3.6.1.5.5.7.3.9": "OCSP Signing",
  "1.3.6.1.5.5.7.3.17": "ipsec Internet Key Exchange",
  "2.5.29.37.0": "Any Extended Key Usage",
  "1.3.6.1.4.1.311.10.3.3": "Microsoft Server Gated Crypto",
  "2.16.840.1.113730.4.1": "Netscape Server Gated Crypto",
  "1.3.6.1.4.1.311.2.1.21": "Microsoft Individual Code Signing",
  "1.3.6.1.4.1.311.2.1.22": "Microsoft Commercial Code Signing",
  "1.3.6.1.4.1.311.20.2.2": "Microsoft Smartcard Login",
  "1.3.6.1.4.1.311.10.3.4": "Microsoft Encrypted File System",
};

export function extendedKeyUsageName(oid: string): string {
  return EKU_LN[oid] ?? oid;
}
