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
import type { HandshakeOutcome } from "../../observe/records.ts";
import type { ListenerEvents, TlsPolicy } from "./types.ts";

const kVerdict = Symbol.for("portico.client-cert-verdict");

/** Why a certificate is refused, and the handshake outcome that reason counts as. */
interface Verdict {
  reason: string;
  outcome: HandshakeOutcome;
}
const ADMITTED: Verdict = { reason: "", outcome: "ok" };

type Tagged = { [kVerdict]?: Verdict };

/** Whether this policy needs the guard at all (plain SIMPLE and MUTUAL do not). */
export function needsGuard(policy: TlsPolicy): boolean {
  return policy.requestClientCert === true || policy.checkClientCert !== undefined;
}

/** Why the connection's client certificate is refused, or undefined; computed once per connection. */
export function refusal(socket: TLSSocket, policy: TlsPolicy): string | undefined {
  const verdict = verdictOf(socket, policy);
  return verdict === ADMITTED ? undefined : verdict.reason;
}

function verdictOf(socket: TLSSocket & Tagged, policy: TlsPolicy): Verdict {
  let verdict = socket[kVerdict];
  if (verdict === undefined) {
    verdict = judge(socket, policy);
    socket[kVerdict] = verdict;
  }
  return verdict;
}

function judge(socket: TLSSocket, policy: TlsPolicy): Verdict {
  const cert = socket.getPeerCertificate(false);
  if (!cert || !cert.raw)
    return policy.requireClientCert
      ? { reason: "no client certificate", outcome: "client_cert_missing" }
      : ADMITTED;
  if (!socket.authorized)
    return {
      reason: `client certificate not trusted (${String(socket.authorizationError)})`,
      outcome: "client_cert_untrusted",
    };
  const reason = policy.checkClientCert?.(new Uint8Array(cert.raw));
  return reason === undefined ? ADMITTED : { reason, outcome: "client_cert_rejected" };
}

/**
 * Installs the check on a TLS server: a refused connection is destroyed right after its
 * handshake. Each handshake that gets this far is reported: "ok", or the refusal's outcome.
 */
export function guardClientCert(
  server: { on(event: "secureConnection", listener: (socket: TLSSocket) => void): unknown },
  policy: TlsPolicy,
  events?: ListenerEvents,
): void {
  const guard = needsGuard(policy);
  const report = events?.handshake;
  if (!guard && report === undefined) return;
  server.on("secureConnection", (socket) => {
    const outcome = guard ? verdictOf(socket, policy).outcome : "ok";
    events?.handshake?.(outcome);
    if (outcome !== "ok") socket.destroy();
  });
}
