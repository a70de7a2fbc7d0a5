// Istio's ServerTLSSettings, as routes.yaml's servers[].tls and a Gateway server's tls share
// them: the fields and the shape of their values, which fields go with which mode and listener
// protocol, and the builder into the model. routes-yaml/ and istio/gateway-tls.ts each add how
// the certificate is named (`credential` or `credentialName`).
// Reference: https://istio.io/latest/docs/reference/config/networking/gateway/#ServerTLSSettings

import { resolve } from "node:path";
import * as v from "valibot";
import type { CredentialConfig, Source, TlsProtocolVersion, TlsServerConfig } from "./model.ts";
import { checked, list, oneOf, text, type AddIssue } from "./schema-kit.ts";
import type { FieldPath } from "./yaml-locate.ts";

/** Istio's TLSProtocol names; only TLSV1_2 and TLSV1_3 are served (see versionProblem). */
export const TLS_PROTOCOLS = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"] as const;
export type TlsProtocolName = (typeof TLS_PROTOCOLS)[number];

/**
 * The ServerTLSSettings fields routes.yaml and Istio Gateways share (each adds how the
 * certificate is named: `credential` or `credentialName`), so both accept exactly the same.
 */
export function sharedServerTlsFields() {
  return {
    serverCertificate: v.optional(text("a file path", 1)),
    privateKey: v.optional(text("a file path", 1)),
    caCertificates: v.optional(text("a file path", 1)),
    caCrl: v.optional(text("a file path", 1)),
    subjectAltNames: v.optional(list("a non-empty list of subject alternative names", text("a name", 1), 1)),
    verifyCertificateSpki: v.optional(
      list(
        "a non-empty list of base64 SHA-256 SPKI hashes",
        checked("a base64 SHA-256 hash (44 characters)", spkiProblem),
        1,
      ),
    ),
    verifyCertificateHash: v.optional(
      list(
        "a non-empty list of hex SHA-256 certificate hashes",
        checked("a hex SHA-256 hash", certHashProblem),
        1,
      ),
    ),
    minProtocolVersion: v.optional(oneOf(TLS_PROTOCOLS)),
    maxProtocolVersion: v.optional(oneOf(TLS_PROTOCOLS)),
    cipherSuites: v.optional(
      list(
        "a non-empty list of OpenSSL cipher suite names",
        checked("an OpenSSL cipher suite name", cipherProblem),
        1,
      ),
    ),
  };
}

/** Fields that only make sense when the server asks for a client certificate. */
const CLIENT_CERT_FIELDS = [
  "subjectAltNames",
  "verifyCertificateSpki",
  "verifyCertificateHash",
  "caCrl",
] as const;
const ORDER: Record<string, number> = { TLS_AUTO: 0, TLSV1_0: 1, TLSV1_1: 2, TLSV1_2: 3, TLSV1_3: 4 };

/** Why `value` is not a base64 SHA-256 SPKI hash (Envoy's verify_certificate_spki), or undefined. */
export function spkiProblem(value: string): string | undefined {
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? Buffer.from(value, "base64") : undefined;
  if (bytes?.length === 32) return undefined;
  return (
    `expected the base64 SHA-256 of a SubjectPublicKeyInfo (44 characters, as printed by \`openssl ` +
    `x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64\`), ` +
    `got ${JSON.stringify(value)}`
  );
}

/** Why `value` is not a hex SHA-256 certificate hash (colons allowed), or undefined. */
export function certHashProblem(value: string): string | undefined {
  if (/^[0-9a-f]{64}$/i.test(value.replaceAll(":", ""))) return undefined;
  return (
    `expected the hex SHA-256 of a certificate (64 hex digits, colons allowed, as printed by ` +
    `\`openssl x509 -noout -fingerprint -sha256\`), got ${JSON.stringify(value)}`
  );
}

/** Lower-case hex without colons: the form the model keeps. */
export function normalizeCertHash(value: string): string {
  return value.replaceAll(":", "").toLowerCase();
}

/**
 * Why `name` is not a TLS 1.2 cipher suite name as OpenSSL writes it, or undefined. Whether the
 * runtime's TLS library knows the suite is checked at provisioning (tls.getCiphers()).
 */
export function cipherProblem(name: string): string | undefined {
  if (/^TLS_/i.test(name)) {
    return (
      `${name} is a TLS 1.3 suite; TLS 1.3 suites are not configurable, cipherSuites applies to TLS ` +
      `1.2 only`
    );
  }
  if (name.startsWith("["))
    return `equal-preference groups like ${JSON.stringify(name)} are not supported; list one suite per entry`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) {
    return (
      `expected one OpenSSL cipher suite name such as ECDHE-RSA-AES128-GCM-SHA256, got ` +
      `${JSON.stringify(name)}`
    );
  }
  return undefined;
}

/** TLSV1_2 / TLSV1_3 as the model keeps them; TLS_AUTO (and anything refused) is left out. */
export function protocolVersion(value: TlsProtocolName | undefined): TlsProtocolVersion | undefined {
  return value === "TLSV1_2" || value === "TLSV1_3" ? value : undefined;
}

/**
 * Checks one server's `tls` against the listener's protocol: HTTPS terminates (SIMPLE, MUTUAL,
 * OPTIONAL_MUTUAL, with a credential or the file form), TLS passes through (PASSTHROUGH and
 * nothing else). `add` reports at a path relative to the `tls` mapping.
 */
export function serverTlsIssues(protocol: string, tls: unknown, add: AddIssue): void {
  if (typeof tls !== "object" || tls === null || Array.isArray(tls)) return;
  const t = tls as Record<string, unknown>;
  if (protocol === "TLS") passthroughIssues(t, add);
  else if (protocol === "HTTPS") terminationIssues(t, add);
}

function passthroughIssues(t: Record<string, unknown>, add: AddIssue): void {
  if (t.mode !== "PASSTHROUGH") {
    const got = t.mode === undefined ? "none" : String(t.mode);
    add(
      ["mode"],
      `a TLS listener hands connections on untouched: expected mode PASSTHROUGH, got ${got} (terminating ` +
        `TLS in front of tcp routes is not supported; use an HTTPS listener for HTTP)`,
    );
    return;
  }
  for (const field of Object.keys(t)) {
    if (field !== "mode")
      add(
        [field],
        "only mode applies to a PASSTHROUGH server: the backend terminates TLS with its own certificate",
      );
  }
}

function terminationIssues(t: Record<string, unknown>, add: AddIssue): void {
  const mode = (t.mode as string | undefined) ?? "SIMPLE";
  if (mode === "PASSTHROUGH") {
    add(
      ["mode"],
      "PASSTHROUGH belongs on a TLS listener (protocol: TLS); an HTTPS listener terminates TLS: use " +
        "SIMPLE, MUTUAL or OPTIONAL_MUTUAL",
    );
  }
  const files = "serverCertificate" in t || "privateKey" in t;
  if ("credential" in t && files) {
    add(
      ["serverCertificate"],
      "credential and serverCertificate/privateKey are alternatives: set one of them",
    );
  } else if (!("credential" in t) && !files) {
    add(
      ["credential"],
      "required field is missing; expected the name of an entry in credentials (or serverCertificate and " +
        "privateKey)",
    );
  } else if (files && !("serverCertificate" in t)) {
    add(["serverCertificate"], "required with privateKey; expected a file path");
  } else if (files && !("privateKey" in t)) {
    add(["privateKey"], "required with serverCertificate; expected a file path");
  }
  if ("caCertificates" in t && "credential" in t) {
    add(
      ["caCertificates"],
      "goes with serverCertificate and privateKey; a credential brings its own CA (`ca`, or ca.crt in its " +
        "folder)",
    );
  }
  if (
    files &&
    mode !== "SIMPLE" &&
    mode !== "PASSTHROUGH" &&
    !("caCertificates" in t) &&
    "serverCertificate" in t &&
    "privateKey" in t
  ) {
    add(
      ["caCertificates"],
      `required for mode ${mode}: the CA bundle that client certificates must chain to`,
    );
  }
  if (mode === "SIMPLE") {
    for (const field of CLIENT_CERT_FIELDS) {
      if (field in t)
        add(
          [field],
          "only applies with mode MUTUAL or OPTIONAL_MUTUAL: a SIMPLE server never asks for a client " +
            "certificate",
        );
    }
  }
  for (const field of ["minProtocolVersion", "maxProtocolVersion"]) {
    const value = t[field];
    if (value === "TLSV1_0" || value === "TLSV1_1") {
      add(
        [field],
        `${value} is not supported: TLS 1.0 and 1.1 are deprecated (RFC 8996) and Portico serves TLS 1.2 ` +
          `and 1.3 only; use TLSV1_2 or TLSV1_3`,
      );
    }
  }
  const min = ORDER[String(t.minProtocolVersion)] ?? 0;
  const max = ORDER[String(t.maxProtocolVersion)] ?? 0;
  if (min >= ORDER.TLSV1_2! && max >= ORDER.TLSV1_2! && min > max) {
    add(
      ["minProtocolVersion"],
      `${String(t.minProtocolVersion)} is above maxProtocolVersion ${String(t.maxProtocolVersion)}`,
    );
  }
  if ("cipherSuites" in t && t.minProtocolVersion === "TLSV1_3") {
    add(
      ["cipherSuites"],
      "cipherSuites apply to TLS 1.2 only, and minProtocolVersion TLSV1_3 rules TLS 1.2 out; remove one of " +
        "them",
    );
  }
}

/** A server's `tls` as the schema passed it. */
export interface RawServerTls {
  mode?: string;
  credential?: string;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCrl?: string;
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: TlsProtocolName;
  maxProtocolVersion?: TlsProtocolName;
  cipherSuites?: string[];
}

/** The model's optional TLS fields of one HTTPS server (absent ones left out). */
export type ServerTlsSettings = Pick<
  TlsServerConfig,
  | "subjectAltNames"
  | "verifyCertificateSpki"
  | "verifyCertificateHash"
  | "caCrl"
  | "minProtocolVersion"
  | "maxProtocolVersion"
  | "cipherSuites"
>;

/**
 * The credential a server uses and its other settings. The file form (`serverCertificate`,
 * `privateKey`, `caCertificates`) becomes a credential named `<file>:<path of the tls>`, added
 * to `credentials`, so provisioning reads and checks it like any other.
 */
export function serverTls(
  tls: RawServerTls,
  at: FieldPath,
  baseDir: string,
  credentials: Map<string, CredentialConfig> | undefined,
  source: (path: FieldPath) => Source,
): { credential: string; fileForm: boolean; settings: ServerTlsSettings } {
  let credential = tls.credential ?? "";
  const fileForm =
    tls.credential === undefined && tls.serverCertificate !== undefined && tls.privateKey !== undefined;
  if (fileForm) {
    // Named after where it was written, file included: unique when several files are merged.
    const where = source([...at, "tls"]);
    credential = `${where.file}:${where.path}`;
    const ca = tls.caCertificates === undefined ? {} : { ca: resolve(baseDir, tls.caCertificates) };
    credentials?.set(credential, {
      name: credential,
      cert: resolve(baseDir, tls.serverCertificate!),
      key: resolve(baseDir, tls.privateKey!),
      ...ca,
      caOptional: false,
      source: where,
    });
  }
  const settings: ServerTlsSettings = {};
  if (tls.subjectAltNames) settings.subjectAltNames = tls.subjectAltNames;
  if (tls.verifyCertificateSpki) settings.verifyCertificateSpki = tls.verifyCertificateSpki;
  if (tls.verifyCertificateHash)
    settings.verifyCertificateHash = tls.verifyCertificateHash.map(normalizeCertHash);
  if (tls.caCrl !== undefined) settings.caCrl = resolve(baseDir, tls.caCrl);
  const min = protocolVersion(tls.minProtocolVersion);
  const max = protocolVersion(tls.maxProtocolVersion);
  if (min) settings.minProtocolVersion = min;
  if (max) settings.maxProtocolVersion = max;
  if (tls.cipherSuites) settings.cipherSuites = tls.cipherSuites.map((c) => c.toUpperCase());
  return { credential, fileForm, settings };
}
