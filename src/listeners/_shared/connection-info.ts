// Connection facts for the handler, computed once per TLS connection and kept on the socket.
// For h2 requests `incoming.socket` is Node's proxy of the session socket; property reads and
// writes pass through it to the real TLSSocket, so a symbol property works for h1 and h2 alike.

import type { TLSSocket } from "node:tls";
import type { ConnectionInfo, PeerCertificate, TlsPolicy } from "./types.ts";

/** The policy a TLS connection was handshaken under, and its index in that spec. */
export interface ServerOf {
  index: number;
  policy: TlsPolicy;
}

const kConn = Symbol.for("portico.connection-info");

type Tagged = { [kConn]?: ConnectionInfo };

export function plainConnectionInfo(socket: { remoteAddress?: string } & Tagged): ConnectionInfo {
  return (socket[kConn] ??= { remoteAddress: normalizeAddress(socket.remoteAddress) });
}

/** `remoteAddress` overrides the socket's own peer, for connections piped over loopback. */
export function tlsConnectionInfo(
  socket: TLSSocket & Tagged,
  /** A function when the server terminates several policies (sni-contexts.ts). */
  server: ServerOf | ((socket: TLSSocket) => ServerOf),
  wantPeer: boolean,
  remoteAddress?: (socket: TLSSocket) => string | undefined,
): ConnectionInfo {
  let info = socket[kConn];
  if (info === undefined) {
    const { index, policy } = typeof server === "function" ? server(socket) : server;
    info = {
      remoteAddress: remoteAddress?.(socket) ?? normalizeAddress(socket.remoteAddress),
      tls: {
        serverName: typeof socket.servername === "string" ? socket.servername.toLowerCase() : "",
        serverIndex: index,
        policy,
        alpn: socket.alpnProtocol || "http/1.1",
        peer: wantPeer ? peerCertificate(socket) : undefined,
      },
    };
    socket[kConn] = info;
  }
  return info;
}

function peerCertificate(socket: TLSSocket): PeerCertificate | undefined {
  // Only authorized peers reach a handler on a policy that requires a certificate; the check is
  // repeated here so that a runtime bug can never turn into an unverified identity upstream.
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate(true);
  if (!cert || !cert.raw) return undefined;
  const chain: Uint8Array<ArrayBuffer>[] = [];
  // issuerCertificate links the chain; the root points to itself.
  for (
    let c: typeof cert | undefined = cert;
    c?.raw && chain.length < 10;
    c = c.issuerCertificate === c ? undefined : c.issuerCertificate
  ) {
    chain.push(new Uint8Array(c.raw));
  }
  return {
    der: new Uint8Array(cert.raw),
    sha256: cert.fingerprint256.replaceAll(":", "").toLowerCase(),
    chain,
  };
}

/** "::ffff:127.0.0.1" → "127.0.0.1", so X-Forwarded-For carries the address people expect. */
export function normalizeAddress(addr: string | undefined): string {
  if (!addr) return "";
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}
