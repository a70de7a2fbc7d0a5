// Takes key material out of what the admin API shows (GET /config, POST /reload's errors):
// private-key PEM blocks, base64 bodies (a Kubernetes Secret's `tls.key` value, a PEM body
// without its armour), and the values of fields named like secrets. Certificates are public,
// but their PEM text is summarised too: it would hide nothing useful and a base64 body is a
// base64 body. Over-redacting is the safe side: a redacted value never leaves a byte of it.

import { mayBeKeyMaterial } from "../util/key-material.ts";

export const REDACTED = "[redacted]";

/** Fields whose string value is secret unless it is a file path (the key's location is shown). */
const SECRET_FIELDS = new Set([
  "key",
  "keyPem",
  "privateKey",
  "tls.key",
  "password",
  "secret",
  "token",
  "hmac",
  "hmacKey",
  "hmacEncoded",
]);

/** A string, redacted as a whole when any part of it may be key material. */
export function redactText(s: string): string {
  if (/PRIVATE KEY/i.test(s)) return REDACTED;
  if (s.includes("-----BEGIN ")) {
    const blocks = s.match(/-----BEGIN ([A-Z0-9 ]+)-----/g) ?? [];
    return `[PEM: ${blocks.map((b) => b.slice(11, -5)).join(", ")}]`;
  }
  return mayBeKeyMaterial(s) ? REDACTED : s;
}

/** A key field may show a file path or a description (one line, no base64 run), never a blob. */
const harmless = (s: string) => s.length < 1024 && !/[\r\n]/.test(s) && redactText(s) === s;

/** A deep copy of a JSON value with every secret replaced by "[redacted]". */
export function redact(value: unknown, field?: string): unknown {
  if (typeof value === "string") {
    if (field !== undefined && SECRET_FIELDS.has(field) && !harmless(value)) return REDACTED;
    return redactText(value);
  }
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k);
    return out;
  }
  return value;
}
