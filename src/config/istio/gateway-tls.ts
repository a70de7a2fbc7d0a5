// A Gateway server's `tls` (Istio's ServerTLSSettings) → the model. The value checks, the rules
// on which field goes with which mode and protocol, and the builder are routes.yaml's
// (server-tls.ts), so a Gateway and routes.yaml accept the same settings with the same
// messages. What is Istio's own: the certificate comes from `credentialName` (a Secret document
// or a credential folder, resolved by sources/compose.ts) where routes.yaml says `credential`,
// and the modes that need Istio's mesh.
// Reference: https://istio.io/latest/docs/reference/config/networking/gateway/#ServerTLSSettings

import { dirname, resolve } from "node:path";
import * as v from "valibot";
import type { CredentialConfig, TlsMode, TlsServerConfig } from "../model.ts";
import { boolean, mapping, oneOf, text, validate } from "../schema-kit.ts";
import { serverTls, serverTlsIssues, sharedServerTlsFields, type RawServerTls } from "../server-tls.ts";
import type { FieldPath } from "../yaml-locate.ts";
import type { IstioDoc } from "./document.ts";

const MODES = [
  "SIMPLE",
  "MUTUAL",
  "OPTIONAL_MUTUAL",
  "PASSTHROUGH",
  "AUTO_PASSTHROUGH",
  "ISTIO_MUTUAL",
] as const;

/** Modes that only make sense inside an Istio mesh. */
const MESH_MODES: Record<string, string> = {
  AUTO_PASSTHROUGH:
    "AUTO_PASSTHROUGH forwards by the SNI names Istio gives mesh services (outbound_.PORT_._.HOST) between " +
    "clusters; Portico has no mesh: use PASSTHROUGH with tls routes",
  ISTIO_MUTUAL:
    "ISTIO_MUTUAL uses the certificates Istio's mesh CA issues to workloads; Portico has no mesh: use " +
    "MUTUAL with credentialName",
};

const FILE_FIELDS = ["serverCertificate", "privateKey", "caCertificates"] as const;

// The same fields and value checks as routes.yaml's servers[].tls (routes-yaml/schema.ts), with
// credentialName in place of credential, and Istio's httpsRedirect (HTTP servers).
export const ServerTlsSchema = mapping(
  "a mapping with mode and credentialName",
  {
    httpsRedirect: v.optional(boolean()),
    mode: v.optional(oneOf(MODES)),
    credentialName: v.optional(text("the name of a Secret document or of a credential folder", 1)),
    ...sharedServerTlsFields(),
  },
  {
    credentialNames:
      "several certificates per server (RSA and ECDSA, say) are not supported; give one with credentialName",
    tlsCertificates:
      "several certificates per server are not supported; give one with credentialName, or " +
      "serverCertificate and privateKey",
    caCertCredentialName:
      "put the CA in the credentialName Secret (ca.crt or cacert), in a Secret named " +
      "<credentialName>-cacert, or in ca.crt of the credential folder",
  },
);

export type IstioServerTls = v.InferOutput<typeof ServerTlsSchema>;

export interface ServerTlsOptions {
  /** Resolves a credentialName to a credential known to the config, or reports why not. */
  credential: (name: string, doc: IstioDoc, at: (string | number)[]) => string | undefined;
  /** Receives the credential made from the file form (serverCertificate, privateKey, caCertificates). */
  addCredential: (credential: CredentialConfig) => void;
}

/** Reports for one server, and remembers whether it did. */
function serverReport(doc: IstioDoc, index: number) {
  const at: FieldPath = ["spec", "servers", index];
  const r = {
    at,
    tlsAt: [...at, "tls"] as FieldPath,
    failed: false,
    report(path: FieldPath, message: string) {
      r.failed = true;
      doc.ctx.report(path, message);
    },
    /** For server-tls.ts's rules, which report at a path inside `tls`. */
    add(path: FieldPath, message: string) {
      r.report([...r.tlsAt, ...path], message);
    },
  };
  return r;
}

/**
 * The server's `tls`, checked against the schema and refused for Istio's mesh-only modes;
 * undefined when it was reported (`missing`: what to say when there is no `tls`).
 */
function meshFreeTls(
  server: Record<string, unknown>,
  r: ReturnType<typeof serverReport>,
  doc: IstioDoc,
  missing: string,
): IstioServerTls | undefined {
  if (server.tls === undefined) {
    r.report(r.tlsAt, missing);
    return undefined;
  }
  const tls = validate(ServerTlsSchema, server.tls, r.tlsAt, doc.ctx);
  if (tls?.mode !== undefined && MESH_MODES[tls.mode]) {
    r.report([...r.tlsAt, "mode"], `not supported by Portico: ${MESH_MODES[tls.mode]}`);
    return undefined;
  }
  return tls;
}

/**
 * An HTTPS server's `tls`: SIMPLE, MUTUAL or OPTIONAL_MUTUAL with a certificate and the optional settings.
 */
export function terminatedServer(
  server: Record<string, unknown>,
  hosts: string[],
  index: number,
  doc: IstioDoc,
  opts: ServerTlsOptions,
): TlsServerConfig | undefined {
  const r = serverReport(doc, index);
  const tls = meshFreeTls(
    server,
    r,
    doc,
    "an HTTPS server needs tls with mode and credentialName (or serverCertificate and privateKey)",
  );
  if (!tls) return undefined;
  const mode = tls.mode ?? "SIMPLE";

  // Where the certificate comes from: Istio's own field, so Istio's own words.
  const { httpsRedirect: _ignored, credentialName, ...settings } = tls;
  const files = settings.serverCertificate !== undefined || settings.privateKey !== undefined;
  if (credentialName !== undefined && files) {
    r.report(
      [...r.tlsAt, settings.serverCertificate !== undefined ? "serverCertificate" : "privateKey"],
      "credentialName and serverCertificate/privateKey are alternatives: set one of them",
    );
  } else if (credentialName === undefined && !files && mode !== "PASSTHROUGH") {
    r.report(
      [...r.tlsAt, "credentialName"],
      "required field is missing; expected the name of a Secret document or of a credential folder (or " +
        "serverCertificate and privateKey)",
    );
  }
  if (credentialName !== undefined && settings.caCertificates !== undefined) {
    r.report(
      [...r.tlsAt, "caCertificates"],
      "goes with serverCertificate and privateKey; with credentialName the CA comes from the Secret " +
        "(ca.crt or cacert), a <credentialName>-cacert Secret, or ca.crt in the credential folder",
    );
  }
  // Everything else is routes.yaml's rules: fields per mode, file form, versions, cipher suites.
  const fileForm = credentialName === undefined && files;
  const view: RawServerTls = fileForm
    ? settings
    : { ...withoutFiles(settings), credential: credentialName ?? "" };
  serverTlsIssues("HTTPS", view, r.add);
  if (r.failed) return undefined;

  let credential: string | undefined;
  if (!fileForm) {
    credential = opts.credential(credentialName!, doc, [...r.tlsAt, "credentialName"]);
    if (credential === undefined) return undefined;
  }
  const made = new Map<string, CredentialConfig>();
  const built = serverTls(
    fileForm ? view : { ...view, credential },
    r.at,
    dirname(resolve(doc.ctx.file)),
    made,
    (path) => doc.ctx.source(path),
  );
  for (const c of made.values()) {
    // routes.yaml names it `<file>:listeners[i].servers[j].tls`; a file may hold several Gateways.
    credential = `${c.source.file}:${doc.name}.${c.source.path}`;
    opts.addCredential({ ...c, name: credential });
  }
  return {
    hosts,
    mode: mode as TlsMode,
    credential: credential ?? built.credential,
    ...built.settings,
    source: doc.ctx.source(r.at),
  };
}

/**
 * A TLS server's `tls`: only `mode: PASSTHROUGH`, as in routes.yaml (the backend terminates
 * TLS). False when it was reported.
 */
export function passthroughServerOk(server: Record<string, unknown>, index: number, doc: IstioDoc): boolean {
  const r = serverReport(doc, index);
  const tls = meshFreeTls(
    server,
    r,
    doc,
    "a TLS server needs tls with mode: PASSTHROUGH (the backend terminates TLS with its own certificate)",
  );
  if (!tls) return false;
  const mode = tls.mode;
  if (mode === undefined) {
    r.report(
      [...r.tlsAt, "mode"],
      "required field is missing; expected PASSTHROUGH: the backend terminates TLS with its own certificate",
    );
    return false;
  }
  if (mode !== "PASSTHROUGH") {
    // Istio would terminate TLS here and forward the decrypted bytes to the VirtualService's tcp routes.
    r.report(
      [...r.tlsAt, "mode"],
      `expected PASSTHROUGH, got ${mode}: mode ${mode} on a TLS server terminates TLS and forwards the ` +
        `decrypted bytes to tcp routes, which Portico does not support; use PASSTHROUGH (the backend ` +
        `terminates TLS), or protocol HTTPS to terminate TLS in front of http routes`,
    );
    return false;
  }
  serverTlsIssues("TLS", tls, r.add);
  return !r.failed;
}

function withoutFiles<T extends Record<string, unknown>>(tls: T): T {
  const out = { ...tls };
  for (const f of FILE_FIELDS) delete out[f];
  return out;
}
