// The usual credential (a leaf, perhaps its intermediates, an unencrypted RSA, EC or Ed25519 key
// that matches, names in plain ASCII) read with node:crypto, whose X509Certificate and
// createPrivateKey are native on Bun, Deno and Node: tens of microseconds per credential on
// Bun, where the pure-TypeScript reading of `portico certs` (src/certs/) takes milliseconds,
// which 10,000 hosts turn into most of a startup. Anything unusual, and anything wrong, is
// left to that reading (undefined here), which knows how to say what is wrong; so for every
// credential this accepts, both readings agree (test/unit/credentials.test.ts checks).

import { X509Certificate, createHash, createPrivateKey, type KeyObject } from "node:crypto";
import { pemDer } from "../certs/pem.ts";
import type { CertificateSummary, CredentialFacts } from "./plan.ts";

/**
 * Key types the Web Crypto reading (certs/private-key.ts) imports too, with their kind as
 * tls/key-kind.ts names it from the PEM (test/unit/credentials.test.ts checks both agree).
 */
const KEY_KINDS = new Map([
  ["rsa", "rsa"],
  ["ed25519", "ed25519"],
]);
const EC_KINDS = new Map([
  ["prime256v1", "ec P-256"],
  ["secp384r1", "ec P-384"],
  ["secp521r1", "ec P-521"],
]);
/**
 * Attributes printed under the same short name by node:crypto (OpenSSL) and @peculiar/x509's
 * Name.toString, with values that neither escapes (none of RFC 4514 section 2.4's specials).
 */
const PLAIN_ATTRIBUTE = /^(CN|O|OU|C|L|ST)=[\w.*@-]([\w .*@-]*[\w.*@-])?$/;
const PLAIN_SAN = /^(DNS:[\x21-\x7e]+|URI:[\x21-\x7e]+|email:[\x21-\x7e]+|IP Address:\d+\.\d+\.\d+\.\d+)$/;

/**
 * What `parseCredential` (credentials.ts) finds, and the key's kind, when the credential is the
 * usual kind and fine.
 */
export function quickCredential(
  certPem: string,
  keyPem: string,
  caPem: string | undefined,
): CredentialFacts | undefined {
  try {
    const ders = pemDer(certPem, "CERTIFICATE");
    const chain = ders.map((der) => new X509Certificate(der));
    if (chain.length === 0) return undefined;
    for (let i = 0; i + 1 < chain.length; i++)
      if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey))
        return undefined;
    const key = createPrivateKey(keyPem);
    const kind = kindOf(key);
    if (kind === undefined || !chain[0]!.checkPrivateKey(key)) return undefined;
    // A MUTUAL server's client CAs: summarized as the thorough reading does, nothing more checked.
    const caDers = caPem === undefined ? [] : pemDer(caPem, "CERTIFICATE");
    if (caPem !== undefined && caDers.length === 0) return undefined;
    const summaries = chain.map((x, i) => summary(x, ders[i]!));
    const clientCa = caDers.map((der) => summary(new X509Certificate(der), der));
    if (!summaries.every(isDefined) || !clientCa.every(isDefined)) return undefined;
    const leaf = chain[0]!;
    const leafSans = leaf.subjectAltName === undefined ? [] : leaf.subjectAltName.split(", ");
    const leafCns = plainName(leaf.subject)!
      .filter((a) => a.startsWith("CN="))
      .map((a) => a.slice(3));
    return {
      leaf: summaries[0]!,
      chain: summaries,
      chainProblems: [],
      anchoredAt: summaries.at(-1)!.issuer,
      clientCa,
      leafNames: { subjectAltNames: leafSans, commonNames: leafCns },
      keyKind: kind,
    };
  } catch {
    return undefined;
  }
}

/**
 * One certificate (`der`, read as `x`) as the startup messages and the admin API show it;
 * undefined when unusual. The fingerprint is hashed from the DER at hand: the same SHA-256 as
 * x.fingerprint256, at a fifth of its cost on Bun.
 */
function summary(x: X509Certificate, der: Uint8Array): CertificateSummary | undefined {
  const subject = plainName(x.subject);
  const issuer = plainName(x.issuer);
  const sans = x.subjectAltName === undefined ? [] : x.subjectAltName.split(", ");
  const notBefore = new Date(x.validFrom);
  const notAfter = new Date(x.validTo);
  if (subject === undefined || issuer === undefined || !sans.every((s) => PLAIN_SAN.test(s)))
    return undefined;
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) return undefined;
  const names = (prefix: string) =>
    sans.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
  return {
    subject: subject.join(", "),
    issuer: issuer.join(", "),
    notBefore,
    notAfter,
    sha256: createHash("sha256").update(der).digest("hex"),
    dnsNames: names("DNS:"),
    uriNames: names("URI:"),
  };
}

function isDefined<T>(v: T | undefined): v is T {
  return v !== undefined;
}

/** The key's kind, when the thorough reading imports keys of that kind; undefined otherwise. */
function kindOf(k: KeyObject): string | undefined {
  if (k.asymmetricKeyType === "ec") return EC_KINDS.get(k.asymmetricKeyDetails?.namedCurve ?? "");
  return KEY_KINDS.get(k.asymmetricKeyType ?? "");
}

/** node:crypto prints one attribute a line; undefined when one is not plainly comparable. */
function plainName(printed: string): string[] | undefined {
  const attributes = printed.split("\n");
  return attributes.every((a) => PLAIN_ATTRIBUTE.test(a)) ? attributes : undefined;
}
