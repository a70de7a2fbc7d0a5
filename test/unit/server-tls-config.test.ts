// Istio's ServerTLSSettings in routes.yaml: what maps onto the model, every error with its exact
// message, and what provisioning makes of the settings (client-certificate checks, versions,
// ciphers) with per-run certificates.
import "reflect-metadata";
import { beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { provision } from "../../src/provision/provision.ts";
import { compileClientCertCheck, serialKey } from "../../src/tls/client-cert-check.ts";
import { certHash, rogueClient, spkiHash, TestPki, type Pem } from "../helpers/pki.ts";
import { yaml } from "../helpers/yaml.ts";
import { provisionErrors, routesYamlErrors as errors } from "../helpers/config-errors.ts";

describe("routes.yaml → model", () => {
  test("ServerTLSSettings: every field, and the file form as a credential named after the server", () => {
    const config = parseConfig(
      yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls:
                  mode: OPTIONAL_MUTUAL
                  credential: c
                  subjectAltNames: [spiffe://x/a, a.test]
                  verifyCertificateSpki: ["${"A".repeat(43)}="]
                  verifyCertificateHash: ["AB:${"CD:".repeat(30)}EF"]
                  caCrl: crl.pem
                  minProtocolVersion: TLSV1_2
                  maxProtocolVersion: TLSV1_3
                  cipherSuites: [ecdhe-rsa-aes128-gcm-sha256]
              - hosts: [b.test]
                tls: { mode: MUTUAL, serverCertificate: b.crt, privateKey: /k/b.key, caCertificates: ca.pem, minProtocolVersion: TLS_AUTO }
        credentials:
          c: { cert: c.crt, key: c.key, ca: ca.pem }
      `,
      "/etc/portico/routes.yaml",
    );
    const [a, b] = (config.listeners[0] as { servers: unknown[] }).servers as Record<string, unknown>[];
    expect(a).toMatchObject({
      mode: "OPTIONAL_MUTUAL",
      credential: "c",
      subjectAltNames: ["spiffe://x/a", "a.test"],
      verifyCertificateSpki: [`${"A".repeat(43)}=`],
      verifyCertificateHash: [`ab${"cd".repeat(30)}ef`],
      caCrl: "/etc/portico/crl.pem",
      minProtocolVersion: "TLSV1_2",
      maxProtocolVersion: "TLSV1_3",
      cipherSuites: ["ECDHE-RSA-AES128-GCM-SHA256"],
    });
    const name = "/etc/portico/routes.yaml:listeners[0].servers[1].tls";
    expect(b).toMatchObject({ mode: "MUTUAL", credential: name });
    expect(b!.minProtocolVersion).toBeUndefined();
    expect(config.credentials.get(name)).toEqual({
      name,
      cert: "/etc/portico/b.crt",
      key: "/k/b.key",
      ca: "/etc/portico/ca.pem",
      caOptional: false,
      source: { file: "/etc/portico/routes.yaml", line: 17, path: "listeners[0].servers[1].tls" },
    });
  });
});

describe("errors: ServerTLSSettings", () => {
  test("client-certificate fields need MUTUAL or OPTIONAL_MUTUAL", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { credential: c, subjectAltNames: [x], verifyCertificateSpki: ["${"A".repeat(43)}="], verifyCertificateHash: ["${"a".repeat(64)}"], caCrl: crl.pem }
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual(
      ["subjectAltNames", "verifyCertificateSpki", "verifyCertificateHash", "caCrl"].map(
        (f) =>
          `routes.yaml:6: listeners[0].servers[0].tls.${f}: only applies with mode MUTUAL or OPTIONAL_MUTUAL: a SIMPLE server never asks for a client certificate`,
      ),
    );
  });

  test("credential or the file form, not both, and the file form complete", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { credential: c, serverCertificate: a.crt, privateKey: a.key }
              - hosts: [b.test]
                tls: { privateKey: b.key }
              - hosts: [c.test]
                tls: { mode: MUTUAL, serverCertificate: c.crt, privateKey: c.key }
              - hosts: [d.test]
                tls: { credential: c, caCertificates: ca.pem }
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual([
      "routes.yaml:6: listeners[0].servers[0].tls.serverCertificate: credential and serverCertificate/privateKey are alternatives: set one of them",
      "routes.yaml:8: listeners[0].servers[1].tls.serverCertificate: required with privateKey; expected a file path",
      "routes.yaml:10: listeners[0].servers[2].tls.caCertificates: required for mode MUTUAL: the CA bundle that client certificates must chain to",
      "routes.yaml:12: listeners[0].servers[3].tls.caCertificates: goes with serverCertificate and privateKey; a credential brings its own CA (`ca`, or ca.crt in its folder)",
    ]);
  });

  test("OPTIONAL_MUTUAL needs a CA, like MUTUAL", () => {
    expect(
      errors(yaml`
        listeners: [{ port: 8443, protocol: HTTPS, servers: [{ hosts: [a.test], tls: { mode: OPTIONAL_MUTUAL, credential: c } }] }]
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual([
      'routes.yaml:1: listeners[0].servers[0].tls.mode: mode OPTIONAL_MUTUAL needs a CA to verify client certificates: add `ca` to credential "c"',
    ]);
  });

  test("protocol versions: 1.0 and 1.1 refused with the reason, min above max", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { credential: c, minProtocolVersion: TLSV1_0, maxProtocolVersion: TLSV1_1 }
              - hosts: [b.test]
                tls: { credential: c, minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_2 }
              - hosts: [c.test]
                tls: { credential: c, minProtocolVersion: TLS1_3 }
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual([
      "routes.yaml:6: listeners[0].servers[0].tls.minProtocolVersion: TLSV1_0 is not supported: TLS 1.0 and 1.1 are deprecated (RFC 8996) and Portico serves TLS 1.2 and 1.3 only; use TLSV1_2 or TLSV1_3",
      "routes.yaml:6: listeners[0].servers[0].tls.maxProtocolVersion: TLSV1_1 is not supported: TLS 1.0 and 1.1 are deprecated (RFC 8996) and Portico serves TLS 1.2 and 1.3 only; use TLSV1_2 or TLSV1_3",
      "routes.yaml:8: listeners[0].servers[1].tls.minProtocolVersion: TLSV1_3 is above maxProtocolVersion TLSV1_2",
      'routes.yaml:10: listeners[0].servers[2].tls.minProtocolVersion: expected TLS_AUTO or TLSV1_0 or TLSV1_1 or TLSV1_2 or TLSV1_3, got "TLS1_3"; did you mean "TLSV1_3"?',
    ]);
  });

  test("cipherSuites: TLS 1.2 names only, one per entry, not with a TLS 1.3 minimum", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { credential: c, cipherSuites: [TLS_AES_128_GCM_SHA256, "[A|B]", "A:B"] }
              - hosts: [b.test]
                tls: { credential: c, cipherSuites: [AES128-GCM-SHA256], minProtocolVersion: TLSV1_3 }
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual([
      "routes.yaml:6: listeners[0].servers[0].tls.cipherSuites[0]: TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite; TLS 1.3 suites are not configurable, cipherSuites applies to TLS 1.2 only",
      'routes.yaml:6: listeners[0].servers[0].tls.cipherSuites[1]: equal-preference groups like "[A|B]" are not supported; list one suite per entry',
      'routes.yaml:6: listeners[0].servers[0].tls.cipherSuites[2]: expected one OpenSSL cipher suite name such as ECDHE-RSA-AES128-GCM-SHA256, got "A:B"',
      "routes.yaml:8: listeners[0].servers[1].tls.cipherSuites: cipherSuites apply to TLS 1.2 only, and minProtocolVersion TLSV1_3 rules TLS 1.2 out; remove one of them",
    ]);
  });

  test("pins that are not SHA-256 hashes", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { mode: MUTUAL, credential: c, verifyCertificateSpki: [abc], verifyCertificateHash: ["ab:cd"] }
        credentials: { c: { cert: c.crt, key: c.key, ca: ca.pem } }
      `),
    ).toEqual([
      'routes.yaml:6: listeners[0].servers[0].tls.verifyCertificateSpki[0]: expected the base64 SHA-256 of a SubjectPublicKeyInfo (44 characters, as printed by `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`), got "abc"',
      'routes.yaml:6: listeners[0].servers[0].tls.verifyCertificateHash[0]: expected the hex SHA-256 of a certificate (64 hex digits, colons allowed, as printed by `openssl x509 -noout -fingerprint -sha256`), got "ab:cd"',
    ]);
  });
});

describe("provisioning ServerTLSSettings (per-run certificates)", () => {
  let pki: TestPki;
  let other: TestPki;
  let server: Pem, a: Pem, b: Pem, gone: Pem, rogue: Pem;
  let crl: string, otherCrl: string;

  beforeAll(() => {
    pki = new TestPki();
    other = new TestPki("Other CA");
    server = pki.issue("server", "a.test", ["DNS:a.test"], "serverAuth");
    a = pki.issue(
      "a",
      "a",
      ["DNS:a.test", "URI:spiffe://t/a", "email:a@t.test", "IP:10.0.0.1"],
      "clientAuth",
    );
    b = pki.issue("b", "b", ["DNS:b.test"], "clientAuth");
    gone = pki.issue("gone", "gone", ["DNS:a.test"], "clientAuth");
    rogue = rogueClient(pki.dir);
    crl = pki.crl([gone]);
    otherCrl = other.crl([]);
  });

  const config = (tls: string) => yaml`
    listeners: [{ port: 8443, protocol: HTTPS, servers: [{ hosts: [a.test], tls: { mode: MUTUAL, credential: c, ${tls} } }] }]
    credentials: { c: { cert: ${server.crt}, key: ${server.key}, ca: ${pki.ca.crt} } }
  `;
  const der = (pem: Pem) => new Uint8Array(new X509Certificate(readFileSync(pem.crt)).raw);
  async function checkOf(tls: string) {
    const { plan } = await provision(parseConfig(config(tls), join(pki.dir, "routes.yaml")));
    return plan.listeners[0]!.kind === "https" ? plan.listeners[0]!.servers[0]!.clientCertCheck : undefined;
  }

  test("subjectAltNames match any SAN kind exactly", async () => {
    for (const san of ["a.test", "spiffe://t/a", "a@t.test", "10.0.0.1"]) {
      const check = (await checkOf(`subjectAltNames: ["${san}"]`))!;
      expect(check(der(a))).toBeUndefined();
      expect(check(der(b))).toBe(
        "no subject alternative name of the client certificate (b.test) is among subjectAltNames",
      );
    }
  });

  test("hash or SPKI: a match in either list admits", async () => {
    const check = (await checkOf(
      `verifyCertificateHash: ["${certHash(a.crt)}"], verifyCertificateSpki: ["${spkiHash(b.crt)}"]`,
    ))!;
    expect(check(der(a))).toBeUndefined();
    expect(check(der(b))).toBeUndefined();
    expect(check(der(gone))).toBe(
      "the client certificate matches neither verifyCertificateHash nor verifyCertificateSpki",
    );
  });

  test("caCrl: the revoked certificate is refused, others pass", async () => {
    const check = (await checkOf(`caCrl: ${crl}`))!;
    expect(check(der(a))).toBeUndefined();
    expect(check(der(gone))).toMatch(
      /^the client certificate \(serial [0-9a-f]+\) is revoked by its issuer's CRL$/,
    );
  });

  test("caCrl from another CA, or not a CRL at all, stops startup", async () => {
    const errs = await provisionErrors(config(`caCrl: ${otherCrl}`));
    expect(errs).toEqual([
      `routes.yaml:1: listeners[0].servers[0].tls.caCrl: ${otherCrl}: CRL not accepted: its issuer (CN=Other CA) is not a CA of credential "c"; a CRL must be signed by the CA that issues the client certificates`,
    ]);
    const notCrl = await provisionErrors(config(`caCrl: ${rogue.crt}`));
    expect(notCrl[0]).toStartWith(
      `routes.yaml:1: listeners[0].servers[0].tls.caCrl: ${rogue.crt}: no CRL found`,
    );
  });

  test("a cipher suite the runtime does not know stops startup", async () => {
    const errs = await provisionErrors(config("cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, NOT-A-SUITE]"));
    expect(errs[0]).toStartWith(
      "routes.yaml:1: listeners[0].servers[0].tls.cipherSuites: not known to this runtime's TLS library: NOT-A-SUITE; it knows ",
    );
  });

  test("versions and ciphers reach the plan in node:tls terms", async () => {
    const { plan } = await provision(
      parseConfig(config("minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_3"), "routes.yaml"),
    );
    expect(plan.listeners[0]!.kind === "https" && plan.listeners[0]!.servers[0]).toMatchObject({
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
    });
    const withCiphers = await provision(
      parseConfig(
        config("cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-GCM-SHA384]"),
        "routes.yaml",
      ),
    );
    expect(
      withCiphers.plan.listeners[0]!.kind === "https" && withCiphers.plan.listeners[0]!.servers[0]!.ciphers,
    ).toBe("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384");
  });

  test("no check is compiled when nothing beyond the chain is asked", () => {
    expect(compileClientCertCheck({})).toBeUndefined();
    expect(serialKey("00AB01")).toBe("ab01");
    expect(serialKey("00")).toBe("0");
  });
});
