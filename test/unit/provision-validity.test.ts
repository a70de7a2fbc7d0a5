// Startup judgement of credentials: validity against a given clock, expiry warnings, chain order.
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { ConfigError } from "../../src/util/errors.ts";
import { provision } from "../../src/provision/provision.ts";
import { book } from "../helpers/book.ts";
import { writeConfig } from "../helpers/portico.ts";

const leaf = book.webappCert;
const key = book.webappKey;
const intermediate = book.webappIntermediateCert;

function config(cert: string, host = "webapp.istioinaction.io") {
  const text = `listeners:
  - port: 8443
    protocol: HTTPS
    servers:
      - hosts: [${host}]
        tls: { credential: webapp }
credentials:
  webapp: { cert: ${cert}, key: ${key} }
`;
  const file = writeConfig(text);
  return { cfg: parseConfig(text, file), file };
}

async function issuesOf(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`);
    throw err;
  }
}

describe("certificate validity at startup (the book's leaf: Jul 4 2021 – Jun 29 2041)", () => {
  test("valid today: no issue, no warning", async () => {
    const { warnings } = await provision(config(leaf).cfg, { now: new Date("2026-11-25T00:00:00Z") });
    expect(warnings).toEqual([]);
  });

  test("expired: refused, with the date and the way out", async () => {
    const issues = await issuesOf(provision(config(leaf).cfg, { now: new Date("2042-01-01T00:00:00Z") }));
    expect(issues).toEqual([
      `8: credentials.webapp: certificate C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io in ${leaf} expired on 2041-06-29T12:49:32.000Z; renew it, or start with --allow-expired`,
    ]);
  });

  test("not yet valid: refused", async () => {
    const issues = await issuesOf(provision(config(leaf).cfg, { now: new Date("2020-01-01T00:00:00Z") }));
    expect(issues[0]).toContain("is not valid before 2021-07-04T12:49:32.000Z");
  });

  test("allowExpired turns the refusal into a warning", async () => {
    const { warnings } = await provision(config(leaf).cfg, {
      now: new Date("2042-01-01T00:00:00Z"),
      allowExpired: true,
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain(
      "expired on 2041-06-29T12:49:32.000Z (starting anyway: --allow-expired)",
    );
  });

  test("expiring within warnDays: a warning with the days left", async () => {
    const { warnings } = await provision(config(leaf).cfg, {
      now: new Date("2041-06-01T12:49:32Z"),
      warnDays: 30,
    });
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringContaining("expires in 28 days (2041-06-29T12:49:32.000Z)"),
    ]);
    const quiet = await provision(config(leaf).cfg, { now: new Date("2041-06-01T12:49:32Z"), warnDays: 10 });
    expect(quiet.warnings).toEqual([]);
  });
});

describe("chain order", () => {
  const dir = mkdtempSync(join(tmpdir(), "portico-chain-"));
  test("leaf then intermediate: accepted, anchored at the root", async () => {
    const file = join(dir, "good.pem");
    writeFileSync(file, readFileSync(leaf, "utf8") + readFileSync(intermediate, "utf8"));
    const { plan } = await provision(config(file).cfg, { now: new Date("2026-11-25T00:00:00Z") });
    expect(plan.credentials[0]!.chainProblems).toEqual([]);
    expect(plan.credentials[0]!.chain).toHaveLength(2);
  });

  test("a chain listed out of order is refused, saying how to fix it", async () => {
    const file = join(dir, "reversed.pem");
    // The key must still match the first certificate, so the leaf stays first: put the
    // intermediate twice around a leaf copy to break the order after it.
    writeFileSync(
      file,
      readFileSync(leaf, "utf8") +
        readFileSync(book.webappRootCert, "utf8") +
        readFileSync(intermediate, "utf8"),
    );
    const issues = await issuesOf(provision(config(file).cfg, { now: new Date("2026-11-25T00:00:00Z") }));
    expect(issues.join("\n")).toContain(
      "out of order: certificate 1 (C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io) is issued by certificate 3, not by the one after it; list the leaf first, then each issuer",
    );
  });

  test("a certificate after the leaf that did not issue it", async () => {
    const file = join(dir, "stranger.pem");
    const catalogIntermediate = book.catalogIntermediateCert;
    writeFileSync(file, readFileSync(leaf, "utf8") + readFileSync(catalogIntermediate, "utf8"));
    const issues = await issuesOf(provision(config(file).cfg, { now: new Date("2026-11-25T00:00:00Z") }));
    expect(issues).toEqual([
      `8: credentials.webapp: ${file}: certificate 1 (C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io) is issued by C=US, ST=Denial, O=Dis, CN=webapp.istioinaction.io, but certificate 2 is C=US, ST=Denial, O=Dis, CN=catalog.istioinaction.io`,
    ]);
  });

  test("an issuer with the right name but another key", async () => {
    const file = join(dir, "impostor.pem");
    const impostor = join(dir, "impostor-ca.pem");
    const subj = "/C=US/ST=Denial/O=Dis/CN=webapp.istioinaction.io";
    const args = [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(dir, "impostor.key"),
    ];
    execFileSync("openssl", [...args, "-subj", subj, "-days", "1", "-out", impostor], { stdio: "ignore" });
    writeFileSync(file, readFileSync(leaf, "utf8") + readFileSync(impostor, "utf8"));
    const issues = await issuesOf(provision(config(file).cfg, { now: new Date() }));
    expect(issues).toEqual([
      `8: credentials.webapp: ${file}: certificate 1 (C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io) is not signed by certificate 2's key`,
    ]);
  });
});

describe("host coverage", () => {
  const now = new Date("2026-11-25T00:00:00Z");
  test("a host the certificate's name covers: no warning", async () => {
    expect((await provision(config(leaf).cfg, { now })).warnings).toEqual([]);
  });

  test("a host the certificate does not cover: a warning, not an error", async () => {
    const { warnings } = await provision(config(leaf, "other.example.com").cfg, { now });
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringContaining(
        'certificate of "webapp" (C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io) does not cover host "other.example.com"; clients that verify the name will refuse it',
      ),
    ]);
  });
});
