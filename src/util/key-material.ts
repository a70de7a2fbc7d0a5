// Whether a piece of text may be (part of) a private key, so that no message, log line or admin
// answer repeats it: PEM armour, or a run of base64 long enough to be a key body. One test for
// the admin redaction (admin/redact.ts) and for every message that quotes what a user wrote.

/** A run of base64 long enough to be part of a key or certificate body (not a name or a path). */
const BASE64_RUN = /[A-Za-z0-9+/]{40,}={0,2}/g;
const HEX = /^[0-9a-fA-F:]+$/;

/** What a message says instead of text that may be key material. */
export const HIDDEN_KEY_TEXT = "text that may be key material (not shown)";

export function mayBeKeyMaterial(s: string): boolean {
  if (/PRIVATE KEY|-----BEGIN /i.test(s)) return true;
  for (const m of s.matchAll(BASE64_RUN)) {
    // Hex digests (certificate and SPKI hashes, fingerprints) are public and useful, and a long
    // path of words (/etc/portico/credentials/...) is no key: random base64 has every class.
    if (!HEX.test(m[0]) && /[0-9]/.test(m[0]) && /[A-Z]/.test(m[0]) && /[a-z]/.test(m[0])) return true;
  }
  return false;
}
