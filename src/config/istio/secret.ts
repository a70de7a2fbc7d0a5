// Kubernetes Secret documents as credentials: `kubernetes.io/tls` (tls.crt, tls.key, ca.crt)
// and Istio's generic form (cert, key, cacert), in `data` (base64) or `stringData`.
// Istio reads the CA of `<name>` also from a Secret named `<name>-cacert` (Istio docs, "Secure
// Gateways": "the CA certificate can be in a separate secret named <secret>-cacert").
import * as v from "valibot";
import { CA_KEYS, CERT_KEYS, KEY_KEYS } from "../../certs/secret-keys.ts";
import type { CredentialConfig } from "../model.ts";
import { boolean, mapping, namedMap, text, validate } from "../schema-kit.ts";
import type { IstioDoc } from "./document.ts";

// https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/
const SecretSchema = mapping("a Secret with data or stringData", {
  apiVersion: v.unknown(),
  kind: v.unknown(),
  metadata: v.unknown(),
  type: v.optional(text("a Secret type such as kubernetes.io/tls")),
  data: v.optional(namedMap("a mapping of keys to base64 values", text("base64 text"))),
  stringData: v.optional(namedMap("a mapping of keys to values", text("a string"))),
  immutable: v.optional(boolean()),
});

export interface SecretMaterial {
  name: string;
  cert?: string;
  key?: string;
  ca?: string;
  doc: IstioDoc;
}

/** The certificate, key and CA a Secret holds; undefined when it is not a valid Secret (reported). */
export function readSecret(doc: IstioDoc): SecretMaterial | undefined {
  const body = validate(SecretSchema, doc.raw, [], doc.ctx);
  if (!body) return undefined;
  const values = new Map<string, string>();
  for (const [k, value] of Object.entries(body.data ?? {}))
    values.set(k, Buffer.from(value, "base64").toString("utf8"));
  for (const [k, value] of Object.entries(body.stringData ?? {})) values.set(k, value);
  const pick = (keys: readonly string[]) =>
    keys.map((k) => values.get(k)).find((value) => value !== undefined);
  const material: SecretMaterial = { name: doc.name, doc };
  const cert = pick(CERT_KEYS);
  const key = pick(KEY_KEYS);
  const ca = pick(CA_KEYS);
  if (cert !== undefined) material.cert = cert;
  if (key !== undefined) material.key = key;
  if (ca !== undefined) material.ca = ca;
  if (cert === undefined && key === undefined && ca === undefined) {
    doc.ctx.report(
      [],
      `Secret "${doc.name}" holds none of ${[...CERT_KEYS, ...KEY_KEYS, ...CA_KEYS].join(", ")}`,
    );
  }
  return material;
}

/**
 * A credential from Secret documents: `<name>` for the certificate and key, `<name>-cacert` may add the CA.
 */
export function credentialFromSecrets(
  name: string,
  secrets: Map<string, SecretMaterial>,
): CredentialConfig | undefined {
  const main = secrets.get(name);
  if (!main || main.cert === undefined || main.key === undefined) return undefined;
  const ca = main.ca ?? secrets.get(`${name}-cacert`)?.ca;
  const where = `${main.doc.ctx.file} (Secret ${name})`;
  const source = main.doc.ctx.source([]);
  return {
    name,
    cert: where,
    key: where,
    ...(ca === undefined ? {} : { ca: where }),
    caOptional: false,
    inline: { cert: main.cert, key: main.key, ...(ca === undefined ? {} : { ca }) },
    source,
  };
}
