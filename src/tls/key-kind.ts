// The kind of a private key (RSA, RSA-PSS, EC and its curve, Ed25519, Ed448), read from the
// PEM's label and the algorithm identifiers near the start of its DER, without importing it
// (importing costs ~0.4 ms per key on Node 20, and a listener may hold thousands).
//
// Why it matters: on Node 20, a node:tls server whose own certificate is EC serves that EC
// certificate even when its SNICallback hands over the context of an RSA certificate (seen with
// openssl s_client on Node 20.20.2; Bun and Deno switch correctly, and RSA → EC switches on
// Node too). So certificates share one server only when their keys are of one kind
// (http2-servers.ts), and a change of kind restarts the listener (gateway/start-gateway.ts).

import { PRIVATE_KEY_LABELS, pemBlocks } from "../certs/pem.ts";

const OIDS: [hex: string, kind: string][] = [
  ["2a864886f70d01010a", "rsa-pss"],
  ["2a864886f70d010101", "rsa"],
  ["2b6570", "ed25519"],
  ["2b6571", "ed448"],
];
const CURVES: [hex: string, curve: string][] = [
  ["2a8648ce3d030107", "P-256"],
  ["2b81040022", "P-384"],
  ["2b81040023", "P-521"],
];

/** "rsa", "rsa-pss", "ec P-256", "ec P-384", "ec P-521", "ed25519", "ed448", or "other". */
export function keyKind(pem: string): string {
  const block = pemBlocks(pem).find((b) => PRIVATE_KEY_LABELS.includes(b.label));
  if (block === undefined) return "other";
  if (block.label === "RSA PRIVATE KEY") return "rsa";
  // PKCS#8's algorithm identifier (and an EC key's curve) come within its first 50 bytes; a SEC1
  // key's curve follows its private key octets. Only those bytes are searched, so random key
  // material cannot be taken for an identifier.
  const hex = Buffer.from(block.der.subarray(0, block.label === "EC PRIVATE KEY" ? 100 : 50)).toString("hex");
  if (block.label === "EC PRIVATE KEY" || hex.includes("2a8648ce3d0201")) {
    const curve = CURVES.find(([oid]) => hex.includes(oid));
    return curve ? `ec ${curve[1]}` : "ec";
  }
  return OIDS.find(([oid]) => hex.includes(oid))?.[1] ?? "other";
}
