// Client-certificate policy beyond what node:tls does in the handshake: OPTIONAL_MUTUAL (ask,
// verify if given, admit without) and Istio's subjectAltNames / verifyCertificateSpki /
// verifyCertificateHash / caCrl. node:tls has no hook inside the server handshake for these, so
// the verdict is taken at 'secureConnection', before any request on the connection is read,
// and a refused connection is destroyed there: the client sees its handshake succeed and the
// connection close (curl exit 56 / 16 / 92), never an HTTP response, and no request reaches an
// upstream. The request path checks the same verdict again and destroys the connection instead
// of calling the handler: on Node 20 a request that arrives in the same flight as the client's
// Finished can reach the request listener before the 'secureConnection' listeners run (the
// http2 / http1 server attaches first and reads what is buffered); seen in the e2e suite, where
// this second check is what stops those requests. Destroying, not answering 403, keeps the
// outcome the same on every path: no HTTP response at all, as Envoy gives.

import type { TLSSocket } from "node:tls";
import type { TlsPolicy } from "./types.ts";

const kVerdict = Symbol.for("portico.client-cert-verdict");
const ADMITTED = "";

type Tagged = { [kVerdict]?: string };

/** Whether this policy needs the guard at all (plain SIMPLE and MUTUAL do not). */
export function needsGuard(policy: TlsPolicy): boolean {
  return policy.requestClientCert === true || policy.checkClientCert !== undefined;
}

/** Why the connection's client certificate is refused, or undefined; computed once per connection. */
export function refusal(socket: TLSSocket & Tagged, policy: TlsPolicy): string | undefined {
  let verdict = socket[kVerdict];
  if (verdict === undefined) {
    verdict = judge(socket, policy) ?? ADMITTED;
    socket[kVerdict] = verdict;
  }
  return verdict === ADMITTED ? undefined : verdict;
}

function judge(socket: TLSSocket, policy: TlsPolicy): string | undefined {
  const cert = socket.getPeerCertificate(false);
  if (!cert || !cert.raw) return policy.requireClientCert ? "no client certificate" : undefined;
  if (!socket.authorized) return `client certificate not trusted (${String(socket.authorizationError)})`;
  return policy.checkClientCert?.(new Uint8Array(cert.raw));
}

/** Installs the check on a TLS server: a refused connection is destroyed right after its handshake. */
export function guardClientCert(
  server: { on(event: "secureConnection", listener: (socket: TLSSocket) => void): unknown },
  policy: TlsPolicy,
): void {
  if (!needsGuard(policy)) return;
  server.on("secureConnection", (socket) => {
    if (refusal(socket, policy) !== undefined) socket.destroy();
  });
}
