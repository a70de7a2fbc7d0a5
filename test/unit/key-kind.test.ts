// keyKind groups certificates on one node:tls server (listeners/_shared/http2-servers.ts): a
// wrong answer puts an RSA certificate behind an EC server, which Node 20 then never serves.
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { keyKind } from "../../src/tls/key-kind.ts";

const pem = (type: "rsa" | "ec" | "ed25519", format: "pkcs1" | "sec1" | "pkcs8", curve?: string) =>
  generateKeyPairSync(
    type as "rsa",
    {
      modulusLength: 2048,
      ...(curve ? { namedCurve: curve } : {}),
      privateKeyEncoding: { type: format as "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    } as never,
  ).privateKey as unknown as string;

describe("keyKind", () => {
  test("RSA as PKCS#1 and PKCS#8", () => {
    expect(keyKind(pem("rsa", "pkcs1"))).toBe("rsa");
    expect(keyKind(pem("rsa", "pkcs8"))).toBe("rsa");
  });
  test("EC keys with their curve, as SEC1 and PKCS#8", () => {
    expect(keyKind(pem("ec", "sec1", "P-256"))).toBe("ec P-256");
    expect(keyKind(pem("ec", "pkcs8", "P-256"))).toBe("ec P-256");
    expect(keyKind(pem("ec", "sec1", "P-384"))).toBe("ec P-384");
    expect(keyKind(pem("ec", "pkcs8", "P-521"))).toBe("ec P-521");
  });
  test("Ed25519; no key at all", () => {
    expect(keyKind(pem("ed25519", "pkcs8"))).toBe("ed25519");
    expect(keyKind("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")).toBe("other");
  });
  test("the book's demo key is RSA", () => {
    expect(keyKind(readFileSync("certs/webapp-credential/tls.key", "utf8"))).toBe("rsa");
  });
});
