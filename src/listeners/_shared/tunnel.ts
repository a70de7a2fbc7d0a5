// How a handler answers an Upgrade it forwarded: the upstream said 101, and from then on the
// client's connection and the upstream's carry bytes both ways, untouched (Envoy proxies an
// upgraded stream the same way: it does not read WebSocket frames). A Response cannot carry
// status 101 or a socket, so the handler returns a placeholder Response marked with its tunnel;
// the adapter that offered `ConnectionInfo.upgrade` writes the 101 and relays the bytes.

import type { Duplex } from "node:stream";

export interface Tunnel {
  /** The upstream connection, past the upstream's 101 head. */
  upstream: Duplex;
  /** Bytes the upstream sent after its 101 head, before the relay started. */
  head: Uint8Array;
  /** The `upgrade` value of the upstream's 101 ("websocket"). */
  protocol: string;
  /** No byte either way for this long closes both sides (0: never). */
  idleTimeoutMs: number;
}

const tunnels = new WeakMap<Response, Tunnel>();

/** The 101 to send the client (status aside: `headers` are its headers) and the tunnel behind it. */
export function tunnelResponse(headers: Headers, tunnel: Tunnel): Response {
  const res = new Response(null, { status: 200, headers });
  tunnels.set(res, tunnel);
  return res;
}

export function tunnelOf(res: Response): Tunnel | undefined {
  return tunnels.get(res);
}
