// TLS towards upstreams, one model (UpstreamTlsConfig, pool-model.ts) from two ways of writing
// it: routes.yaml `services.x.tls` (ca, cert, key, serverName, credential, ...) and Istio's
// ClientTLSSettings in a DestinationRule's `trafficPolicy.tls` (mode, caCertificates,
// clientCertificate, privateKey, credentialName, sni, ...). Files resolve against the folder of
// the file that names them; `credentialName` is resolved by the caller, like a Gateway's.
// Reference: https://istio.io/latest/docs/reference/config/networking/destination-rule/#ClientTLSSettings

import { resolve } from "node:path";
import * as v from "valibot";
import type { UpstreamTlsConfig } from "./pool-model.ts";
import { boolean, list, mapping, oneOf, rule, text } from "./schema-kit.ts";

const path = text("a file path", 1);
const sans = list("a non-empty list of subject alternative names", text("a name", 1), 1);

/**
 * routes.yaml's form: an HTTPS upstream with its own trust anchors and, for mutual TLS, a client
 * certificate (or a `credential` entry).
 */
export const ServiceTlsSchema = v.pipe(
  mapping("a mapping with optional ca, cert, key and serverName", {
    ca: v.optional(path),
    cert: v.optional(path),
    key: v.optional(path),
    serverName: v.optional(text("a host name sent as SNI and checked against the upstream's certificate", 1)),
    credential: v.optional(text("the name of an entry in credentials", 1)),
    subjectAltNames: v.optional(sans),
    insecureSkipVerify: v.optional(boolean()),
  }),
  rule((tls, add) => {
    if ("cert" in tls !== "key" in tls) add([], "cert and key go together: set both or neither");
    if ("credential" in tls && ("cert" in tls || "key" in tls))
      add(["credential"], "credential and cert/key are alternatives: set one of them");
  }),
);

const MESH_MUTUAL =
  "ISTIO_MUTUAL is not supported by Portico: it uses the certificates Istio's mesh CA issues to " +
  "workloads, and Portico has no mesh; use MUTUAL with credentialName, or clientCertificate and privateKey";

/** Istio's ClientTLSSettings. */
export const ClientTlsSchema = v.pipe(
  mapping(
    "a mapping with mode and optional certificates, sni and subjectAltNames",
    {
      mode: v.optional(oneOf(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] as const)),
      clientCertificate: v.optional(path),
      privateKey: v.optional(path),
      caCertificates: v.optional(path),
      credentialName: v.optional(text("the name of a Secret document or of a credential folder", 1)),
      subjectAltNames: v.optional(sans),
      sni: v.optional(text("a host name sent as SNI", 1)),
      insecureSkipVerify: v.optional(boolean()),
    },
    { caCrl: "revocation lists for upstream certificates are not supported by Portico" },
  ),
  rule((tls, add) => {
    if (tls.mode === "ISTIO_MUTUAL") add(["mode"], MESH_MUTUAL);
    const files = "clientCertificate" in tls || "privateKey" in tls;
    if ("credentialName" in tls && (files || "caCertificates" in tls))
      add(["credentialName"], "credentialName and the file fields are alternatives: set one of them");
    if ("clientCertificate" in tls !== "privateKey" in tls)
      add([], "clientCertificate and privateKey go together: set both or neither");
    // Istio's validation: MUTUAL needs a client certificate and its key.
    if (tls.mode === "MUTUAL" && !("credentialName" in tls) && !files)
      add(["mode"], "MUTUAL needs credentialName, or clientCertificate and privateKey");
  }),
);

type RawServiceTls = v.InferOutput<typeof ServiceTlsSchema>;
type RawClientTls = v.InferOutput<typeof ClientTlsSchema>;

/** The routes.yaml form → the model (no `mode`: `tls` on an https:// service). */
export function serviceTls(raw: RawServiceTls, baseDir: string): UpstreamTlsConfig {
  return {
    ...(raw.ca === undefined ? {} : { ca: resolve(baseDir, raw.ca) }),
    ...(raw.cert === undefined ? {} : { cert: resolve(baseDir, raw.cert), key: resolve(baseDir, raw.key!) }),
    ...(raw.serverName === undefined ? {} : { serverName: raw.serverName }),
    ...(raw.credential === undefined ? {} : { credential: raw.credential }),
    ...(raw.subjectAltNames === undefined ? {} : { subjectAltNames: raw.subjectAltNames }),
    ...(raw.insecureSkipVerify === undefined ? {} : { insecureSkipVerify: raw.insecureSkipVerify }),
  };
}

/**
 * Istio's form → the model. `credential`: the credential a credentialName resolved to (undefined
 * when it did not, and that was reported). Absent `mode` is Istio's DISABLE.
 */
export function clientTls(raw: RawClientTls, baseDir: string, credential?: string): UpstreamTlsConfig {
  const mode = raw.mode === undefined || raw.mode === "ISTIO_MUTUAL" ? "DISABLE" : raw.mode;
  if (mode === "DISABLE") return { mode };
  return {
    mode,
    ...(raw.caCertificates === undefined ? {} : { ca: resolve(baseDir, raw.caCertificates) }),
    ...(raw.clientCertificate === undefined
      ? {}
      : { cert: resolve(baseDir, raw.clientCertificate), key: resolve(baseDir, raw.privateKey!) }),
    ...(credential === undefined ? {} : { credential }),
    ...(raw.sni === undefined ? {} : { serverName: raw.sni }),
    ...(raw.subjectAltNames === undefined ? {} : { subjectAltNames: raw.subjectAltNames }),
    ...(raw.insecureSkipVerify === undefined ? {} : { insecureSkipVerify: raw.insecureSkipVerify }),
  };
}

/** Whether requests to the upstream go over TLS with these settings. */
export function originatesTls(tls: UpstreamTlsConfig | undefined): boolean {
  return tls !== undefined && tls.mode !== "DISABLE";
}
