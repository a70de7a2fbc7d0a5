// PEM and DER framing: which blocks a file holds, decoded to bytes. Nothing here knows what a
// certificate means; describe.ts and private-key.ts do.

import { Buffer } from "node:buffer";

export interface PemBlock {
  /** The word(s) after BEGIN: "CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", ... */
  label: string;
  der: Uint8Array;
  /** RFC 1421 headers before the base64, such as `Proc-Type: 4,ENCRYPTED` of an encrypted key. */
  headers?: Record<string, string>;
}

/** The PEM labels of a private key: PKCS#8, PKCS#1, SEC1 and encrypted PKCS#8. */
export const PRIVATE_KEY_LABELS = [
  "PRIVATE KEY",
  "RSA PRIVATE KEY",
  "EC PRIVATE KEY",
  "ENCRYPTED PRIVATE KEY",
];

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/**
 * Every PEM block in `text`, in order. Headers such as `Proc-Type:` (encrypted keys) are kept
 * out of the base64. Throws when a block's base64 is broken.
 */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    // No header (a certificate's, a plain key's): the base64 as it is (base64ToBytes drops the
    // line breaks), without splitting it into lines, at a few microseconds per certificate.
    if (!m[2]!.includes(":")) {
      out.push({ label: m[1]!, der: base64ToBytes(m[2]!) });
      continue;
    }
    const lines = m[2]!.split(/\r?\n/);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    const body = lines.filter((line) => !line.includes(":")).join("");
    out.push({ label: m[1]!, der: base64ToBytes(body), ...(Object.keys(headers).length ? { headers } : {}) });
  }
  return out;
}

/** The DER of every block labelled `label` ("CERTIFICATE", "X509 CRL"), in order. */
export function pemDer(text: string, label: string): Uint8Array[] {
  return pemBlocks(text)
    .filter((b) => b.label === label)
    .map((b) => b.der);
}

export function isPem(bytes: Uint8Array): boolean {
  return new TextDecoder()
    .decode(bytes.subarray(0, Math.min(bytes.length, 64 * 1024)))
    .includes("-----BEGIN ");
}

/** A DER SEQUENCE that spans exactly the whole buffer: the shape of a DER certificate or key file. */
export function looksLikeDer(bytes: Uint8Array): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x30) return false;
  const first = bytes[1]!;
  if (first < 0x80) return first + 2 === bytes.length;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || bytes.length < 2 + n) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + bytes[2 + i]!;
  return 2 + n + len === bytes.length;
}

export function toPem(label: string, der: Uint8Array | ArrayBuffer): string {
  const b64 = bytesToBase64(der instanceof Uint8Array ? der : new Uint8Array(der));
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Accepts what atob accepts (padding only on a length that is a multiple of 4, no lone final
 * character), decoded by Buffer: atob's binary string copied byte by byte was a tenth of the
 * credential work of a 10,000-host startup.
 */
export function base64ToBytes(b64: string): Uint8Array {
  const clean = b64.replace(/\s+/g, "");
  const body = clean.length % 4 === 0 ? clean.replace(/={1,2}$/, "") : clean;
  if (!/^[A-Za-z0-9+/]*$/.test(body) || body.length % 4 === 1) throw new Error("invalid base64");
  return new Uint8Array(Buffer.from(body, "base64"));
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** A fresh ArrayBuffer holding exactly these bytes (a Uint8Array may view a larger buffer). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
