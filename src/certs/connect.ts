// The one runtime-specific piece of `certs`: a TLS handshake with a server to see which
// certificates it presents. `node:tls` works the same on Bun, Deno and Node; everything after
// the handshake (parsing, printing, verifying) is the pure code the file inspection uses.

import { connect, type DetailedPeerCertificate } from "node:tls";
import { isIP } from "node:net";
import { PorticoError } from "../util/errors.ts";

export interface PeerChain {
  /** The SNI sent: the one asked for, else the host unless it is an IP address. */
  servername?: string;
  /** DER of each certificate, leaf first. */
  certs: Uint8Array[];
  protocol?: string;
  alpn?: string;
  cipher?: string;
  /** The runtime's own verdict against its default CA store. */
  authorized: boolean;
  authorizationError?: string;
}

export class ConnectError extends PorticoError {}

export function fetchPeerChain(opts: {
  host: string;
  port: number;
  servername?: string;
  timeoutMs?: number;
}): Promise<PeerChain> {
  const { host, port } = opts;
  // No SNI for an IP address (RFC 6066 §3), unless the caller names one.
  const servername = opts.servername ?? (isIP(host) ? undefined : host);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      servername,
      rejectUnauthorized: false,
      ALPNProtocols: ["h2", "http/1.1"],
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ConnectError(`${host}:${port}: no TLS handshake within ${(opts.timeoutMs ?? 10_000) / 1000} s`),
      );
    }, opts.timeoutMs ?? 10_000);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const peer = socket.getPeerCertificate(true);
      const cipher = socket.getCipher();
      const result: PeerChain = {
        servername,
        certs: chainOf(peer),
        protocol: socket.getProtocol() ?? undefined,
        alpn: typeof socket.alpnProtocol === "string" ? socket.alpnProtocol : undefined,
        cipher: cipher?.name,
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
      };
      socket.end();
      resolve(result);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const why =
        err.code === "ECONNREFUSED"
          ? "connection refused"
          : err.code === "ENOTFOUND"
            ? "unknown host"
            : err.message;
      reject(new ConnectError(`${host}:${port}: ${why}`, { cause: err }));
    });
  });
}

/** Follows issuerCertificate links (the presented chain) until a self-issued certificate or a repeat. */
function chainOf(leaf: DetailedPeerCertificate | undefined): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  let cur: DetailedPeerCertificate | undefined = leaf;
  while (cur?.raw && cur.raw.length > 0) {
    const key = Buffer.from(cur.raw).toString("base64");
    if (seen.has(key)) break;
    seen.add(key);
    out.push(new Uint8Array(cur.raw));
    if (!cur.issuerCertificate || cur.issuerCertificate === cur) break;
    cur = cur.issuerCertificate;
  }
  return out;
}
