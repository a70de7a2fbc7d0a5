// What a credential's certificate file says about its chain: each link's issuer is the next
// certificate's subject and its signature verifies with that certificate's key (RFC 8446
// §4.4.2: the sender's certificate first, each following one certifying the one before).
import type { X509Certificate } from "@peculiar/x509";
import { signatureVerifies } from "../certs/chain.ts";

export interface ChainCheck {
  /** Empty when every link verifies. */
  problems: string[];
  /** The issuer of the last certificate: what the client must already trust. */
  anchoredAt: string;
}

export async function checkChain(certs: X509Certificate[]): Promise<ChainCheck> {
  const problems: string[] = [];
  for (let i = 0; i + 1 < certs.length; i++) {
    const cert = certs[i]!;
    const next = certs[i + 1]!;
    if (cert.issuer !== next.subject) {
      const j = certs.findIndex((c) => c.subject === cert.issuer);
      problems.push(
        j >= 0
          ? `out of order: certificate ${i + 1} (${cert.subject}) is issued by certificate ${j + 1}, not by the one after it; list the leaf first, then each issuer`
          : `certificate ${i + 1} (${cert.subject}) is issued by ${cert.issuer}, but certificate ${i + 2} is ${next.subject}`,
      );
      continue;
    }
    if (!(await signatureVerifies(cert, next))) problems.push(`certificate ${i + 1} (${cert.subject}) is not signed by certificate ${i + 2}'s key`);
  }
  const last = certs[certs.length - 1]!;
  return { problems, anchoredAt: last.issuer };
}
