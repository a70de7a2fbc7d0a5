// Private keys in the three encodings people have on disk (PKCS#8 "PRIVATE KEY", PKCS#1
// "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY"), brought to PKCS#8 so that Web Crypto can import
// them, and the public key each one implies, so it can be compared with a certificate's.
// Web Crypto only: the same on Bun, Deno and Node, and in the compiled binary.

import { AsnConvert } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { PrivateKeyInfo, PrivateKey } from "@peculiar/asn1-pkcs8";
import { ECParameters, ECPrivateKey, id_ecPublicKey } from "@peculiar/asn1-ecc";
import { RSAPublicKey, id_RSASSA_PSS, id_rsaEncryption } from "@peculiar/asn1-rsa";
import { CURVES } from "./openssl-text.ts";
import {
  PRIVATE_KEY_LABELS,
  base64ToBytes,
  bytesEqual,
  looksLikeDer,
  pemBlocks,
  toArrayBuffer,
  type PemBlock,
} from "./pem.ts";
import { PorticoError } from "../util/errors.ts";

export type KeyFormat = "PKCS#8" | "PKCS#1" | "SEC1";

export interface PrivateKeyDetails {
  format: KeyFormat;
  /** "RSA", "EC", "Ed25519", "Ed448" */
  type: string;
  /** Modulus bits for RSA, curve bits for EC. */
  bits?: number;
  /** "P-256", ... for EC. */
  curve?: string;
  /** "RSA 2048", "EC P-256", "Ed25519". */
  text: string;
  pkcs8: Uint8Array;
  /** The SubjectPublicKeyInfo of the matching public key, derived with Web Crypto. */
  spki: Uint8Array;
  /** Web Crypto parameters to import this key for signing. */
  importParams: RsaHashedImportParams | EcKeyImportParams | Algorithm;
}

export class KeyError extends PorticoError {}

const ED = { "1.3.101.112": "Ed25519", "1.3.101.113": "Ed448" } as Record<string, string>;

/** Reads a PEM key block (any of PRIVATE_KEY_LABELS). */
export async function readPrivateKey(block: PemBlock): Promise<PrivateKeyDetails> {
  // OpenSSL's legacy PEM encryption (RFC 1421 headers), as `openssl genrsa -aes256` writes it.
  if (block.headers?.["Proc-Type"]?.includes("ENCRYPTED")) {
    const cipher = block.headers["DEK-Info"]?.split(",")[0];
    throw new KeyError(
      `the key is encrypted (${cipher ?? "Proc-Type: 4,ENCRYPTED"}); decrypt it first, e.g. openssl pkey ` +
        `-in key.pem -out plain.pem`,
    );
  }
  switch (block.label) {
    case "PRIVATE KEY":
      return fromPkcs8(block.der, "PKCS#8");
    case "RSA PRIVATE KEY":
      return fromPkcs8(wrapPkcs1(block.der), "PKCS#1");
    case "EC PRIVATE KEY":
      return fromPkcs8(wrapSec1(block.der), "SEC1");
    case "ENCRYPTED PRIVATE KEY":
      throw new KeyError(
        "the key is encrypted (ENCRYPTED PRIVATE KEY); decrypt it first, e.g. openssl pkey -in key.pem " +
          "-out plain.pem",
      );
    default:
      throw new KeyError(`"${block.label}" is not a private key`);
  }
}

/**
 * The first private key in PEM text, read: a key file may also hold EC PARAMETERS (as
 * `openssl ecparam -genkey` writes it) or the certificate.
 */
export async function readPrivateKeyPem(pem: string): Promise<PrivateKeyDetails> {
  const block = pemBlocks(pem).find((b) => PRIVATE_KEY_LABELS.includes(b.label));
  if (!block) {
    throw new KeyError('no private key found (expected "-----BEGIN PRIVATE KEY-----" or an RSA or EC one)');
  }
  return readPrivateKey(block);
}

/** A DER file that may be a key in any of the three encodings; undefined when it is none. */
export async function readDerPrivateKey(der: Uint8Array): Promise<PrivateKeyDetails | undefined> {
  if (!looksLikeDer(der)) return undefined;
  for (const label of ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]) {
    try {
      return await readPrivateKey({ label, der });
    } catch {
      // not this encoding
    }
  }
  return undefined;
}

/** PKCS#1 RSAPrivateKey → PKCS#8 PrivateKeyInfo (RFC 5208 §5, RFC 8017 A.1.2). */
function wrapPkcs1(der: Uint8Array): Uint8Array {
  const info = new PrivateKeyInfo({
    version: 0,
    privateKeyAlgorithm: new AlgorithmIdentifier({ algorithm: id_rsaEncryption, parameters: null }),
    privateKey: new PrivateKey(toArrayBuffer(der)),
  });
  return new Uint8Array(AsnConvert.serialize(info));
}

/** SEC1 ECPrivateKey → PKCS#8, moving the curve into the AlgorithmIdentifier (RFC 5915 §3). */
function wrapSec1(der: Uint8Array): Uint8Array {
  let ec: ECPrivateKey;
  try {
    ec = AsnConvert.parse(der, ECPrivateKey);
  } catch (err) {
    throw new KeyError(`cannot parse the EC private key: ${(err as Error).message}`);
  }
  const curve = ec.parameters?.namedCurve;
  if (!curve) throw new KeyError("the EC private key names no curve (only named curves are supported)");
  const inner = new ECPrivateKey({ version: 1, privateKey: ec.privateKey, publicKey: ec.publicKey });
  const info = new PrivateKeyInfo({
    version: 0,
    privateKeyAlgorithm: new AlgorithmIdentifier({
      algorithm: id_ecPublicKey,
      parameters: AsnConvert.serialize(new ECParameters({ namedCurve: curve })),
    }),
    privateKey: new PrivateKey(AsnConvert.serialize(inner)),
  });
  return new Uint8Array(AsnConvert.serialize(info));
}

async function fromPkcs8(pkcs8: Uint8Array, format: KeyFormat): Promise<PrivateKeyDetails> {
  let info: PrivateKeyInfo;
  try {
    info = AsnConvert.parse(pkcs8, PrivateKeyInfo);
  } catch (err) {
    throw new KeyError(`cannot parse the ${format} private key: ${(err as Error).message}`);
  }
  const oid = info.privateKeyAlgorithm.algorithm;
  let importParams: RsaHashedImportParams | EcKeyImportParams | Algorithm;
  let type: string;
  let curve: string | undefined;
  if (oid === id_rsaEncryption) {
    importParams = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as RsaHashedImportParams;
    type = "RSA";
  } else if (oid === id_RSASSA_PSS) {
    // Web Crypto imports RSA keys only under rsaEncryption (W3C WebCrypto, RSA-PSS "import
    // key"); the key inside is the same RSAPrivateKey.
    pkcs8 = wrapPkcs1(new Uint8Array(info.privateKey.buffer));
    importParams = { name: "RSA-PSS", hash: "SHA-256" } as RsaHashedImportParams;
    type = "RSA-PSS";
  } else if (oid === id_ecPublicKey) {
    const params = info.privateKeyAlgorithm.parameters;
    const curveOid = params ? AsnConvert.parse(params, ECParameters).namedCurve : undefined;
    curve = curveOid ? CURVES[curveOid]?.name : undefined;
    if (!curve || !["P-256", "P-384", "P-521"].includes(curve))
      throw new KeyError(
        `unsupported EC curve ${curve ?? curveOid ?? "(none)"}; P-256, P-384 and P-521 are supported`,
      );
    importParams = { name: "ECDSA", namedCurve: curve } as EcKeyImportParams;
    type = "EC";
  } else if (ED[oid]) {
    importParams = { name: ED[oid]! };
    type = ED[oid]!;
  } else {
    throw new KeyError(`unsupported private key algorithm ${oid}`);
  }

  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", toArrayBuffer(pkcs8), importParams, true, ["sign"]);
  } catch (err) {
    throw new KeyError(`cannot import the ${format} ${type} private key: ${(err as Error).message}`);
  }
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const publicJwk = publicPart(jwk);
  const publicKey = await crypto.subtle.importKey("jwk", publicJwk, importParams, true, ["verify"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));

  let bits: number | undefined;
  if (type.startsWith("RSA")) bits = bitLength(base64ToBytes(b64urlToB64(jwk.n!)));
  else if (curve) bits = CURVES[Object.keys(CURVES).find((k) => CURVES[k]!.name === curve)!]!.bits;
  const text = type.startsWith("RSA") ? `${type} ${bits}` : type === "EC" ? `EC ${curve}` : type;
  return { format, type, bits, curve, text, pkcs8, spki, importParams };
}

/** Imports the key for signing certificates (Web Crypto, non-extractable). */
export function importSigningKey(key: PrivateKeyDetails): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", toArrayBuffer(key.pkcs8), key.importParams, false, ["sign"]);
}

/**
 * Whether the private key belongs to the certificate whose SubjectPublicKeyInfo is `certSpki`.
 * Equal DER decides at once; otherwise (another but equivalent encoding, e.g. a compressed EC
 * point) the key material is compared after a round trip through Web Crypto.
 */
export async function keyMatchesSpki(key: PrivateKeyDetails, certSpki: Uint8Array): Promise<boolean> {
  if (bytesEqual(key.spki, certSpki)) return true;
  // RSA keys compare by their numbers: an RSA-PSS certificate names its key id-RSASSA-PSS,
  // which Web Crypto does not import.
  const mine = rsaNumbers(key.spki);
  const theirs = rsaNumbers(certSpki);
  if (mine && theirs) return bytesEqual(mine.n, theirs.n) && bytesEqual(mine.e, theirs.e);
  try {
    const mine = await crypto.subtle.exportKey(
      "jwk",
      await crypto.subtle.importKey("spki", toArrayBuffer(key.spki), key.importParams, true, ["verify"]),
    );
    const theirs = await crypto.subtle.exportKey(
      "jwk",
      await crypto.subtle.importKey("spki", toArrayBuffer(certSpki), key.importParams, true, ["verify"]),
    );
    return ["kty", "crv", "n", "e", "x", "y"].every(
      (k) => (mine as Record<string, unknown>)[k] === (theirs as Record<string, unknown>)[k],
    );
  } catch {
    // The certificate's key is of another type or curve.
    return false;
  }
}

function rsaNumbers(spki: Uint8Array): { n: Uint8Array; e: Uint8Array } | undefined {
  try {
    const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
    const oid = info.algorithm.algorithm;
    if (oid !== id_rsaEncryption && oid !== id_RSASSA_PSS) return undefined;
    const key = AsnConvert.parse(info.subjectPublicKey, RSAPublicKey);
    return { n: new Uint8Array(key.modulus), e: new Uint8Array(key.publicExponent) };
  } catch {
    return undefined;
  }
}

function publicPart(jwk: JsonWebKey): JsonWebKey {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, key_ops: _ops, ...pub } = jwk;
  return { ...pub, key_ops: ["verify"] };
}

function b64urlToB64(s: string): string {
  const b = s.replace(/-/g, "+").replace(/_/g, "/");
  return b + "=".repeat((4 - (b.length % 4)) % 4);
}

export function bitLength(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}
