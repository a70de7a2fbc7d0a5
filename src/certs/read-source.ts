// What `certs inspect` is pointed at, read and decoded: a PEM or DER file (one certificate, a
// chain, a key, or several of these), a credential folder (tls.crt, tls.key, ca.crt: a TLS
// Secret's layout), a CA folder from `certs gen ca` (ca.crt, ca.key), or a Kubernetes Secret
// YAML document. Reading is all this does; inspect.ts judges what was read.

import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { describeCertificate, type CertificateInfo } from "./describe.ts";
import { PRIVATE_KEY_LABELS, base64ToBytes, isPem, looksLikeDer, pemBlocks } from "./pem.ts";
import { readDerPrivateKey, readPrivateKey, type PrivateKeyDetails } from "./private-key.ts";
import { CA_KEYS, CERT_KEYS, KEY_KEYS } from "./secret-keys.ts";
import { cannotRead } from "../util/errors.ts";

/** One file, or one entry of a Secret's data. */
export interface LoadedPart {
  /** "tls.crt" in a folder or Secret; the path for a plain file. */
  name: string;
  certs: CertificateInfo[];
  keys: PrivateKeyDetails[];
  errors: string[];
  /** Blocks read but not reported on (a CSR, a public key, ...). */
  notes: string[];
}

export type SourceKind = "file" | "credential folder" | "CA folder" | "Kubernetes Secret";

export interface LoadedSource {
  source: string;
  kind: SourceKind;
  encoding?: "PEM" | "DER";
  secret?: { name?: string; namespace?: string; type?: string };
  /** The certificate (chain): tls.crt / cert, ca.crt of a CA folder, or a plain file. */
  certificate?: LoadedPart;
  /** The private key: tls.key / key / ca.key, or keys inside a plain file. */
  key?: LoadedPart;
  /** ca.crt / cacert of a credential folder or Secret: the CA for client certificates. */
  ca?: LoadedPart;
  errors: string[];
}

export async function readSource(path: string): Promise<LoadedSource[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    return [{ source: path, kind: "file", errors: [cannotRead(path, err)] }];
  }
  if (isDir) return [await loadFolder(path)];
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    return [{ source: path, kind: "file", errors: [cannotRead(path, err)] }];
  }
  const text = new TextDecoder().decode(bytes.subarray(0, 64 * 1024));
  if (/^\s*kind:\s*["']?Secret["']?\s*$/m.test(text))
    return loadSecretYaml(path, new TextDecoder().decode(bytes));
  if (isPem(bytes)) {
    const part = await decodePart(path, bytes);
    return [{ source: path, kind: "file", encoding: "PEM", ...splitPart(part), errors: [] }];
  }
  if (looksLikeDer(bytes)) {
    const part = await decodePart(path, bytes);
    return [{ source: path, kind: "file", encoding: "DER", ...splitPart(part), errors: [] }];
  }
  return [
    {
      source: path,
      kind: "file",
      errors: [`${path}: not a certificate or key (no PEM block, not DER) and not a Kubernetes Secret`],
    },
  ];
}

/** A plain file's certificates and keys, as the certificate and key parts of its source. */
function splitPart(part: LoadedPart): Pick<LoadedSource, "certificate" | "key"> {
  if (part.keys.length === 0) return { certificate: part };
  if (part.certs.length === 0) return { key: part };
  return { certificate: { ...part, keys: [] }, key: { ...part, certs: [], errors: [], notes: [] } };
}

async function loadFolder(dir: string): Promise<LoadedSource> {
  const read = async (name: string): Promise<LoadedPart | undefined> => {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(join(dir, name)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      return { name, certs: [], keys: [], errors: [cannotRead(join(dir, name), err)], notes: [] };
    }
    return decodePart(name, bytes);
  };
  const [tlsCrt, tlsKey, caCrt, caKey] = await Promise.all([
    read("tls.crt"),
    read("tls.key"),
    read("ca.crt"),
    read("ca.key"),
  ]);
  if (tlsCrt || tlsKey) {
    const errors: string[] = [];
    if (!tlsCrt)
      errors.push(`${dir}: no tls.crt (a credential folder holds tls.crt, tls.key and optionally ca.crt)`);
    if (!tlsKey)
      errors.push(`${dir}: no tls.key (a credential folder holds tls.crt, tls.key and optionally ca.crt)`);
    return { source: dir, kind: "credential folder", certificate: tlsCrt, key: tlsKey, ca: caCrt, errors };
  }
  if (caCrt) return { source: dir, kind: "CA folder", certificate: caCrt, key: caKey, errors: [] };
  return {
    source: dir,
    kind: "credential folder",
    errors: [
      `${dir}: neither a credential folder (tls.crt, tls.key, ca.crt) nor a CA folder (ca.crt, ca.key)`,
    ],
  };
}

interface SecretObject {
  kind?: string;
  type?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
  items?: SecretObject[];
}

async function loadSecretYaml(file: string, text: string): Promise<LoadedSource[]> {
  const out: LoadedSource[] = [];
  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch (err) {
    return [
      {
        source: file,
        kind: "Kubernetes Secret",
        errors: [`${file}: cannot parse YAML: ${(err as Error).message}`],
      },
    ];
  }
  const objects: SecretObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      out.push({
        source: file,
        kind: "Kubernetes Secret",
        errors: [`${file}: cannot parse YAML: ${doc.errors[0]!.message}`],
      });
      continue;
    }
    const obj = doc.toJS() as SecretObject | null;
    // `kubectl get secret -o yaml` for several Secrets prints one `kind: List` document.
    if (obj?.kind === "List" && Array.isArray(obj.items)) objects.push(...obj.items);
    else if (obj) objects.push(obj);
  }
  for (const obj of objects) {
    if (obj?.kind !== "Secret") continue;
    const secret = { name: obj.metadata?.name, namespace: obj.metadata?.namespace, type: obj.type };
    const source = `${file} (Secret ${secret.namespace ? `${secret.namespace}/` : ""}${secret.name ?? "?"})`;
    const errors: string[] = [];
    const entry = async (names: readonly string[]): Promise<LoadedPart | undefined> => {
      for (const name of names) {
        const b64 = obj.data?.[name];
        const plain = obj.stringData?.[name];
        if (typeof b64 === "string") {
          let bytes: Uint8Array;
          try {
            bytes = base64ToBytes(b64);
          } catch {
            errors.push(`${source}: data.${name} is not base64`);
            return undefined;
          }
          return decodePart(name, bytes);
        }
        if (typeof plain === "string") return decodePart(name, new TextEncoder().encode(plain));
      }
      return undefined;
    };
    const [certificate, key, ca] = [await entry(CERT_KEYS), await entry(KEY_KEYS), await entry(CA_KEYS)];
    if (!certificate && !key && !ca) errors.push(`${source}: no tls.crt, tls.key or ca.crt in data`);
    else if (!certificate !== !key)
      errors.push(
        `${source}: ${certificate ? "tls.crt without tls.key" : "tls.key without tls.crt"} (a TLS Secret ` +
          `holds both)`,
      );
    out.push({ source, kind: "Kubernetes Secret", secret, certificate, key, ca, errors });
  }
  if (out.length === 0)
    out.push({ source: file, kind: "Kubernetes Secret", errors: [`${file}: no document with kind: Secret`] });
  return out;
}

/** Decodes one file's bytes: PEM blocks of certificates and keys, or one DER certificate or key. */
export async function decodePart(name: string, bytes: Uint8Array): Promise<LoadedPart> {
  const part: LoadedPart = { name, certs: [], keys: [], errors: [], notes: [] };
  if (!isPem(bytes)) {
    if (!looksLikeDer(bytes)) {
      part.errors.push(`${name}: no PEM block and not DER`);
      return part;
    }
    try {
      part.certs.push(await describeCertificate(bytes));
      return part;
    } catch {
      const key = await readDerPrivateKey(bytes);
      if (key) part.keys.push(key);
      else part.errors.push(`${name}: DER, but neither a certificate nor a private key`);
      return part;
    }
  }
  const blocks = pemBlocks(new TextDecoder().decode(bytes));
  if (blocks.length === 0)
    part.errors.push(`${name}: no complete PEM block (-----BEGIN ...----- to -----END ...-----)`);
  let n = 0;
  for (const block of blocks) {
    if (block.label === "CERTIFICATE") {
      n++;
      try {
        part.certs.push(await describeCertificate(block.der));
      } catch (err) {
        part.errors.push(`${name}: certificate ${n}: ${(err as Error).message}`);
      }
    } else if (PRIVATE_KEY_LABELS.includes(block.label)) {
      try {
        part.keys.push(await readPrivateKey(block));
      } catch (err) {
        part.errors.push(`${name}: ${(err as Error).message}`);
      }
    } else part.notes.push(`${name}: skipped a ${block.label} block`);
  }
  return part;
}
