// Session-ticket keys for node:tls servers, rotated: a ticket lets a client resume without a full
// handshake, and a ticket key that never changes would let whoever steals it decrypt every
// session resumed with it, so forward secrecy would end at the key (RFC 8446 §2.2 and §8; Envoy
// expects operators to rotate session_ticket_keys). One key set per process, replaced every
// ROTATE_MS on every tracked server.
//
// node:tls holds a single key (48 bytes: name, HMAC and AES secrets) and has no "decrypt only"
// slot, so a ticket issued before a rotation is refused after it and that client makes a full
// handshake once. Per runtime:
// - Node: ticketKeys and setTicketKeys work as documented (this module).
// - Bun: node:tls's setTicketKeys is "not implemented yet" (Bun 1.4); its BoringSSL contexts
//   make their own ticket keys, which BoringSSL rotates every 2 days, keeping the previous one.
//   Bun.serve has no ticket-key option at all.
// - Deno: node:tls on rustls accepts setTicketKeys but ignores it; rustls's own ticketer
//   rotates its keys.
// Workers each hold their own keys: a ticket from one worker makes a full handshake on another.

import { randomBytes } from "node:crypto";
import type { Server } from "node:tls";
import { currentRuntime } from "../util/runtime.ts";

/** How long one ticket key encrypts new tickets. */
export const ROTATE_MS = Number(process.env.PORTICO_TICKET_KEY_ROTATION_MS) || 12 * 60 * 60 * 1000;

let current = randomBytes(48);
// Weak: a server that only receives piped connections (bun-sni) never emits "close", and a
// reload drops it; the timer is unref'd and stops mattering when nothing is left.
const servers = new Set<WeakRef<Server>>();
let timer: ReturnType<typeof setInterval> | undefined;

/** Only Node honours ticket keys set from JavaScript (see above). */
const SUPPORTED = currentRuntime() === "node";

/** Options for a new node:tls server: the current ticket key, where the runtime honours it. */
export function ticketKeyOptions(): { ticketKeys?: Buffer } {
  return SUPPORTED ? { ticketKeys: current } : {};
}

/** Keeps `server`'s ticket key rotated until it closes. */
export function rotateTicketKeys(server: Server): void {
  if (!SUPPORTED) return;
  servers.add(new WeakRef(server));
  if (timer === undefined) {
    timer = setInterval(rotate, ROTATE_MS);
    timer.unref?.();
  }
}

function rotate(): void {
  current = randomBytes(48);
  for (const ref of servers) {
    const s = ref.deref();
    if (s === undefined) servers.delete(ref);
    else s.setTicketKeys(current);
  }
}
