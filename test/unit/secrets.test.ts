// Private keys stay private: a key file others can read is a warning naming file and mode; no
// error about a broken or misplaced key repeats any of its bytes.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CredentialConfig } from "../../src/config/model.ts";
import { composeConfig } from "../../src/config/sources/compose.ts";
import { provisionCredential } from "../../src/provision/credentials.ts";
import { exposedKeyWarning } from "../../src/provision/key-file-mode.ts";
import { adminToken, checkAdminExposure, isLoopback, requireToken } from "../../src/admin/token.ts";
import { ConfigError } from "../../src/util/errors.ts";
import { book } from "../helpers/book.ts";

const SOURCE = { file: "/etc/portico/routes.yaml", line: 12, path: "credentials.test" };
const cred = (key: string, inline?: { key: string }): CredentialConfig => ({
  name: "test",
  cert: book.webappCert,
  key,
  caOptional: false,
  source: SOURCE,
  ...(inline ? { inline } : {}),
});

let dir: string;
const keyPem = readFileSync(book.webappKey, "utf8");
const body = keyPem.split("\n").filter((l) => l && !l.startsWith("-----"));

/** True when `text` holds any 12-character piece of the key's base64 body. */
function leaks(text: string): boolean {
  const flat = body.join("");
  for (let i = 0; i + 12 <= flat.length; i += 4) if (text.includes(flat.slice(i, i + 12))) return true;
  return false;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "portico-secrets-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(process.platform === "win32")("a key file readable by others", () => {
  test("0644 and 0640: a warning naming the file and its mode; 0600 and 0400: none", async () => {
    const file = join(dir, "tls.key");
    copyFileSync(book.webappKey, file);
    chmodSync(file, 0o644);
    expect(await exposedKeyWarning(file)).toBe(
      `private key ${file} is readable by its group and every user (mode 0644); chmod 600 it`,
    );
    chmodSync(file, 0o640);
    expect(await exposedKeyWarning(file)).toContain("readable by its group (mode 0640)");
    chmodSync(file, 0o600);
    expect(await exposedKeyWarning(file)).toBeUndefined();
    chmodSync(file, 0o400);
    expect(await exposedKeyWarning(file)).toBeUndefined();
  });

  test("provisioning a credential: the warning at the credential's place; inline keys have no mode", async () => {
    const file = join(dir, "cred.key");
    copyFileSync(book.webappKey, file);
    chmodSync(file, 0o604);
    const r = await provisionCredential(cred(file));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.warnings).toEqual([
      {
        ...SOURCE,
        severity: "warning",
        message: `private key ${file} is readable by every user (mode 0604); chmod 600 it`,
      },
    ]);
    const inline = await provisionCredential(cred("(Secret test)", { key: keyPem }));
    expect(inline.ok && inline.warnings).toEqual([]);
  });
});

describe("errors never carry key bytes", () => {
  const der = Buffer.from(body.join(""), "base64");
  const pem = (label: string, bytes: Uint8Array) =>
    `-----BEGIN ${label}-----\n${Buffer.from(bytes)
      .toString("base64")
      .match(/.{1,64}/g)!
      .join("\n")}\n` + `-----END ${label}-----\n`;
  const flipped = Buffer.from(der);
  for (let i = 100; i < 140; i++) flipped[i]! ^= 0x55;
  const broken: Record<string, string> = {
    truncated: pem("RSA PRIVATE KEY", der.subarray(0, der.length >> 1)),
    "bytes flipped": pem("RSA PRIVATE KEY", flipped),
    "wrong label (PKCS#8)": pem("PRIVATE KEY", der),
    "wrong label (SEC1)": pem("EC PRIVATE KEY", der),
    "bad base64": keyPem.replace(/\n([A-Za-z0-9+/]{10})/, "\n!!!$1"),
    "no armour": `${body.join("\n")}\n`,
  };
  for (const [name, text] of Object.entries(broken)) {
    test(`a ${name} key: refused, the message names the file only`, async () => {
      const file = join(dir, `broken-${name.replace(/\W+/g, "-")}.key`);
      writeFileSync(file, text, { mode: 0o600 });
      const r = await provisionCredential(cred(file));
      expect(r.ok).toBe(false);
      const message = r.ok ? "" : r.issues.map((i) => i.message).join("\n");
      expect(message).toContain(file);
      expect(leaks(message)).toBe(false);
    });
  }

  test("key text pasted where a file path belongs: the config error does not repeat it", async () => {
    const yaml = `
listeners: [{ name: web, port: 8443, protocol: HTTPS, servers: [{ hosts: ["*"], tls: { credential: c } }] }]
credentials:
  c: { cert: ${book.webappCert}, key: ${JSON.stringify(keyPem)} }
routes: [{ hosts: ["*"], http: [{ directResponse: { status: 200 } }] }]
`;
    const config = composeConfig(["r.yaml"], [{ file: "r.yaml", text: yaml }]);
    const r = await provisionCredential(config.credentials.get("c")!);
    const message = r.ok ? "" : r.issues.map((i) => i.message).join("\n");
    expect(message).toContain("cannot read private key: expected a file path, got text that may be key");
    expect(leaks(message)).toBe(false);
  });

  test("key text where the schema wants something else: described, not quoted", () => {
    const yaml = `
settings: { serverHeader: ${JSON.stringify(keyPem.split("\n")[1])} , timeout: ${JSON.stringify(keyPem)} }
listeners: [{ name: web, port: 8080, protocol: HTTP }]
`;
    let message = "";
    try {
      composeConfig(["r.yaml"], [{ file: "r.yaml", text: yaml }]);
    } catch (err) {
      message = (err as ConfigError).issues.map((i) => i.message).join("\n");
    }
    expect(message).toContain("got text that may be key material (not shown)");
    expect(leaks(message)).toBe(false);
  });
});

describe("admin token", () => {
  test("loopback addresses", () => {
    for (const a of ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"]) expect(isLoopback(a)).toBe(true);
    for (const a of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "::ffff:10.0.0.1", "fe80::1"])
      expect(isLoopback(a)).toBe(false);
  });

  test("exposure: refused off loopback without a token, naming the field", () => {
    expect(() => checkAdminExposure({ address: "0.0.0.0", port: 1 }, undefined, "settings.admin")).toThrow(
      /^settings\.admin: the admin listener on 0\.0\.0\.0 is not a loopback address/,
    );
    expect(() => checkAdminExposure({ address: "0.0.0.0", port: 1 }, "t", "--admin")).not.toThrow();
    expect(() => checkAdminExposure({ address: "127.0.0.1", port: 1 }, undefined, "--admin")).not.toThrow();
  });

  test("the token comes from PORTICO_ADMIN_TOKEN; empty means none", () => {
    expect(adminToken({ PORTICO_ADMIN_TOKEN: " t " })).toBe("t");
    expect(adminToken({ PORTICO_ADMIN_TOKEN: "" })).toBeUndefined();
    expect(adminToken({})).toBeUndefined();
  });

  test("requireToken: the probes open, everything else needs the exact bearer token", async () => {
    const h = requireToken(() => new Response("in"), "tok");
    const status = async (path: string, auth?: string) =>
      (await h(new Request(`http://a${path}`, auth ? { headers: { authorization: auth } } : {}))).status;
    expect(await status("/healthz")).toBe(200);
    expect(await status("/ready?x=1")).toBe(200);
    expect(await status("/healthz/../certs")).toBe(401);
    expect(await status("/certs")).toBe(401);
    expect(await status("/certs", "Bearer tok")).toBe(200);
    expect(await status("/certs", "bearer tok")).toBe(200);
    expect(await status("/certs", "Bearer tok2")).toBe(401);
    expect(await status("/certs", "Bearer to")).toBe(401);
    expect(await status("/certs", "Basic tok")).toBe(401);
  });
});
