import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { plain } from "../../src/admin/config-routes.ts";
import { REDACTED, redact, redactText } from "../../src/admin/redact.ts";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const ecPem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
  type: "sec1",
  format: "pem",
}) as string;
const body = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");

/** Every 40-character slice of the key's base64 body (and of its base64-of-PEM, a Secret's data form). */
function slices(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 40 <= s.length; i += 7) out.push(s.slice(i, i + 40));
  return out;
}

function expectNoKey(json: string) {
  expect(json).not.toContain("PRIVATE KEY");
  for (const pem of [keyPem, ecPem]) {
    for (const s of [...slices(body(pem)), ...slices(Buffer.from(pem).toString("base64"))])
      expect(json.includes(s)).toBe(false);
  }
}

describe("redact", () => {
  test("a config holding keys inline, base64 and bare shows none of their bytes", () => {
    const config = {
      credentials: new Map([
        [
          "istio-secret",
          {
            cert: "gw.yaml (Secret istio-secret)",
            key: "gw.yaml (Secret istio-secret)",
            inline: { cert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", key: keyPem },
            source: { file: "gw.yaml", line: 3, path: "data" },
          },
        ],
        ["folder", { cert: "/etc/certs/folder/tls.crt", key: "/etc/certs/folder/tls.key" }],
      ]),
      secretData: { "tls.key": Buffer.from(keyPem).toString("base64"), other: body(ecPem) },
      lines: [`error near ${ecPem}`, `value ${body(keyPem)} was here`],
      privateKey: body(keyPem).slice(0, 300),
    };
    const out = JSON.stringify(redact(plain(config)));
    expectNoKey(out);
    expect(out).toContain(REDACTED);
    // What is not secret stays readable: paths, descriptions, sources.
    expect(out).toContain("/etc/certs/folder/tls.key");
    expect(out).toContain('"key":"gw.yaml (Secret istio-secret)"');
    expect(out).toContain('"source":"gw.yaml:3 (data)"');
    expect(out).toContain('"cert":"[PEM: CERTIFICATE]"');
  });

  test("hex digests and ordinary values are left alone", () => {
    const sha = "a".repeat(24) + "0123456789abcdef".repeat(3);
    expect(redactText(sha)).toBe(sha);
    expect(redactText("AB:CD:EF:01")).toBe("AB:CD:EF:01");
    expect(redactText("webapp.istioinaction.io")).toBe("webapp.istioinaction.io");
    const path = "/etc/portico/credentials/webapp/tls/server/cert";
    expect(redactText(path)).toBe(path);
    expect(redact({ key: "x-user-id" })).toEqual({ key: "x-user-id" });
  });

  test("a Map becomes an object, a Date an ISO string, a function disappears", () => {
    const out = plain({ m: new Map([["a", 1]]), d: new Date(0), f: () => 1 });
    expect(out).toEqual({ m: { a: 1 }, d: "1970-01-01T00:00:00.000Z" });
  });
});
