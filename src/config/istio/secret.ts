// Kubernetes Secret documents as credentials: `kubernetes.io/tls` (tls.crt, tls.key, ca.crt)
// and Istio's generic form (cert, key, cacert), in `data` (base64) or `stringData`.
// Istio reads the CA of `<name>` also from a Secret named `<name>-cacert` (Istio docs, "Secure
// Gateways": "the CA certificate can be in a separate secret named <secret>-cacert").
import type { CredentialConfig } from "../model.ts";
import type { IstioDoc } from "./document.ts";

const CERT_KEYS = ["tls.crt", "cert"];
const KEY_KEYS = ["tls.key", "key"];
const CA_KEYS = ["ca.crt", "cacert"];

export interface SecretMaterial {
  name: string;
  cert?: string;
  key?: string;
  ca?: string;
  doc: IstioDoc;
}

export function readSecret(doc: IstioDoc): SecretMaterial | undefined {
  const body = doc.raw as { metadata?: { name?: unknown }; type?: unknown; data?: unknown; stringData?: unknown };
  const name = body.metadata?.name;
  if (typeof name !== "string" || name === "") {
    doc.ctx.report(["metadata", "name"], "a Secret needs metadata.name (the credentialName Gateways refer to)");
    return undefined;
  }
  const values = new Map<string, string>();
  for (const [field, decode] of [
    ["data", (v: string) => Buffer.from(v, "base64").toString("utf8")],
    ["stringData", (v: string) => v],
  ] as const) {
    const section = (body as Record<string, unknown>)[field];
    if (section === undefined) continue;
    if (typeof section !== "object" || section === null || Array.isArray(section)) {
      doc.ctx.report([field], "expected a mapping of keys to values");
      continue;
    }
    for (const [k, v] of Object.entries(section)) {
      if (typeof v !== "string") doc.ctx.report([field, k], "expected a string");
      else values.set(k, decode(v));
    }
  }
  const pick = (keys: string[]) => keys.map((k) => values.get(k)).find((v) => v !== undefined);
  const material: SecretMaterial = { name, doc };
  const cert = pick(CERT_KEYS);
  const key = pick(KEY_KEYS);
  const ca = pick(CA_KEYS);
  if (cert !== undefined) material.cert = cert;
  if (key !== undefined) material.key = key;
  if (ca !== undefined) material.ca = ca;
  if (cert === undefined && key === undefined && ca === undefined) {
    doc.ctx.report([], `Secret "${name}" holds none of ${[...CERT_KEYS, ...KEY_KEYS, ...CA_KEYS].join(", ")}`);
  }
  return material;
}

/** A credential from Secret documents: `<name>` for the certificate and key, `<name>-cacert` may add the CA. */
export function credentialFromSecrets(name: string, secrets: Map<string, SecretMaterial>): CredentialConfig | undefined {
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
