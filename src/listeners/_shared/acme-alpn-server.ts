// The loopback TLS server that answers one tls-alpn-01 validation (RFC 8737 §3): it presents
// the validation certificate and must select ALPN "acme-tls/1", or the CA refuses. node:tls
// does that on Bun and Node. Deno cannot: its node:tls server ignores ALPNProtocols and
// ALPNCallback (`openssl s_client -alpn acme-tls/1` there: "No ALPN negotiated"), and
// Deno.listenTls, which honours alpnProtocols, refuses the validation certificate itself
// ("invalid peer certificate: UnsupportedCriticalExtension": rustls will not load a
// certificate with the critical acmeIdentifier extension that RFC 8737 requires). On Deno,
// Portico therefore answers http-01 only.

import { createServer } from "node:tls";
import { currentRuntime } from "../../util/runtime.ts";

import type { AlpnServer } from "../../acme/challenges.ts";

const ACME_TLS_ALPN = "acme-tls/1";

/** Why this runtime cannot answer tls-alpn-01, or undefined when it can. */
export function acmeAlpnUnsupported(): string | undefined {
  return currentRuntime() === "deno"
    ? "Deno's TLS servers cannot present the tls-alpn-01 validation certificate with ALPN acme-tls/1"
    : undefined;
}

export async function listenAcmeAlpn(cert: string, key: string): Promise<AlpnServer> {
  const server = createServer({ cert, key, ALPNProtocols: [ACME_TLS_ALPN] });
  // The validator closes after the handshake; nothing is read or written.
  server.on("secureConnection", (s) => s.end());
  server.on("tlsClientError", () => {});
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
