// Names why a TLS server's handshake failed ('tlsClientError'), for the handshake-failure
// metric; Envoy counts the same cases as ssl.fail_verify_no_cert, ssl.fail_verify_error and
// ssl.connection_error. What each runtime reports, seen in test/e2e/metrics.test.ts:
// - no client certificate: ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE everywhere (messages
//   differ: OpenSSL on Node, BoringSSL on Bun, rustls "peer sent no certificates" on Deno);
// - an untrusted one: on Bun, UNABLE_TO_VERIFY_LEAF_SIGNATURE and the like; on Node and Deno,
//   node:tls checks the certificate after the library's handshake and destroys the socket,
//   reported as ECONNRESET "socket hang up" with the verification error left on the socket as
//   `authorizationError`.
// Both the code and the message are read, so other libraries' wordings land right too.

import type { TLSSocket } from "node:tls";
import type { HandshakeOutcome } from "../../observe/records.ts";

const MISSING = /did.?not.?return.?a.?certificate|no.?certificate|certificate.?required/i;
const UNTRUSTED =
  /verify|unknown.?ca|unknown.?issuer|self.?signed|invalid.?peer.?certificate|bad.?certificate/i;

export function handshakeFailure(err: Error & { code?: string }, socket: TLSSocket): HandshakeOutcome {
  if (socket.authorizationError) return "client_cert_untrusted";
  const text = `${err.code ?? ""} ${err.message}`;
  if (MISSING.test(text)) return "client_cert_missing";
  if (UNTRUSTED.test(text)) return "client_cert_untrusted";
  return "protocol";
}
