// JSON Web Signatures as ACME wants them (RFC 8555 §6.2): flattened JSON, ES256 over the
// account's P-256 key (Web Crypto's ECDSA signature is r||s, exactly JWS's form, RFC 7518
// §3.4), the key as a JWK on newAccount and its URL (`kid`) afterwards; the account key's
// thumbprint (RFC 7638) for key authorizations; External Account Binding (§7.3.4, HS256).

export type Jwk = { kty: string; crv?: string; x?: string; y?: string; n?: string; e?: string };

import { toArrayBuffer } from "../certs/pem.ts";

const enc = new TextEncoder();

export function b64url(bytes: Uint8Array | ArrayBuffer | string): string {
  const b = typeof bytes === "string" ? enc.encode(bytes) : new Uint8Array(bytes);
  return Buffer.from(b).toString("base64url");
}

export function fromB64url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64url"));
}

export async function newAccountKey(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
}

/** The public JWK with only the members RFC 7638 §3.2 hashes (for EC: crv, kty, x, y). */
export async function publicJwk(key: CryptoKey): Promise<Jwk> {
  const j = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
  return { crv: j.crv!, kty: j.kty!, x: j.x!, y: j.y! };
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, no spaces. */
export async function thumbprint(jwk: Jwk): Promise<string> {
  const text = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return b64url(await crypto.subtle.digest("SHA-256", enc.encode(text)));
}

export interface JwsBody {
  protected: string;
  payload: string;
  signature: string;
}

/** `payload` undefined: POST-as-GET (RFC 8555 §6.3), an empty payload string. */
export async function signJws(
  key: CryptoKey,
  header: Record<string, unknown>,
  payload: unknown,
): Promise<JwsBody> {
  const protectedB64 = b64url(JSON.stringify({ alg: "ES256", ...header }));
  const payloadB64 = payload === undefined ? "" : b64url(JSON.stringify(payload));
  const sig = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    enc.encode(`${protectedB64}.${payloadB64}`),
  );
  return { protected: protectedB64, payload: payloadB64, signature: b64url(sig) };
}

/** RFC 8555 §7.3.4: the account JWK signed with the CA-issued MAC key, for newAccount. */
export async function externalAccountBinding(
  jwk: Jwk,
  eab: { kid: string; hmacKey: string },
  url: string,
): Promise<JwsBody> {
  const protectedB64 = b64url(JSON.stringify({ alg: "HS256", kid: eab.kid, url }));
  const payloadB64 = b64url(JSON.stringify(jwk));
  const mac = await crypto.subtle.importKey(
    "raw",
    toArrayBuffer(fromB64url(eab.hmacKey)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = await crypto.subtle.sign("HMAC", mac, enc.encode(`${protectedB64}.${payloadB64}`));
  return { protected: protectedB64, payload: payloadB64, signature: b64url(sig) };
}
