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
// Workers (`portico run --workers N`) share one key on Node: the supervisor makes it and each
// rotation (src/cli/ticket-key-sharing.ts), a worker starts with it (TICKET_KEY_ENV) and takes
// each new one when told, so a ticket from one worker resumes on another. Node's default
// session id context (a hash of process.argv) is the same in every worker, as it must be for a
// ticket to resume elsewhere. On Bun and Deno workers keep their own keys.

import { createHash, randomBytes } from "node:crypto";
import type { Server } from "node:tls";
import { currentRuntime } from "../util/runtime.ts";

/** The shared ticket key (hex) a supervisor gives its workers. */
export const TICKET_KEY_ENV = "PORTICO_TICKET_KEY";
const KEY_BYTES = 48;

/** How long one ticket key encrypts new tickets. */
export const ROTATE_MS = Number(process.env.PORTICO_TICKET_KEY_ROTATION_MS) || 12 * 60 * 60 * 1000;

/** A key from `hex`, or undefined when it is not one. */
export function parseTicketKey(hex: string | undefined): Buffer | undefined {
  if (hex === undefined || !/^[0-9a-f]+$/i.test(hex) || hex.length !== KEY_BYTES * 2) return undefined;
  return Buffer.from(hex, "hex");
}

export function newTicketKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

const given = parseTicketKey(process.env[TICKET_KEY_ENV]);
let current = given ?? newTicketKey();
// Weak: a server that only receives piped connections (bun-sni) never emits "close", and a
// reload drops it; the timer is unref'd and stops mattering when nothing is left.
const servers = new Set<WeakRef<Server>>();
let timer: ReturnType<typeof setInterval> | undefined;

/** Only Node honours ticket keys set from JavaScript (see above). */
export const TICKET_KEYS_SETTABLE = currentRuntime() === "node";
const SUPPORTED = TICKET_KEYS_SETTABLE;

/** What a TLS policy admits, as far as resuming a session is concerned. */
export interface SessionScope {
  hosts: readonly string[];
  caPem?: string;
  requireClientCert: boolean;
  requestClientCert?: boolean;
}

/**
 * Options for a new node:tls server of one policy: the current ticket key, where the runtime
 * honours it, and the policy's own session id context. OpenSSL resumes a session (by ticket or
 * id) only in the context it was made in (RFC 8446 §4.6.1 leaves it to the server). node:tls's
 * default context is one per process (a hash of process.argv) and the ticket key is shared by
 * all policies, so on Node a ticket from a SIMPLE host resumed on a MUTUAL host of the same
 * listener without any client certificate, and the request was served (measured with openssl
 * s_client -sess_out/-sess_in; Bun and Deno refused it). Derived from what the policy admits,
 * so it is the same in every worker and across reloads that leave the policy as it was.
 */
export function ticketKeyOptions(scope: SessionScope): { ticketKeys?: Buffer; sessionIdContext: string } {
  const sessionIdContext = createHash("sha256")
    .update(
      JSON.stringify([scope.hosts, scope.caPem ?? "", scope.requireClientCert, !!scope.requestClientCert]),
    )
    .digest("hex")
    .slice(0, 32);
  return SUPPORTED ? { ticketKeys: current, sessionIdContext } : { sessionIdContext };
}

/** Keeps `server`'s ticket key rotated until it closes. */
export function rotateTicketKeys(server: Server): void {
  if (!SUPPORTED) return;
  servers.add(new WeakRef(server));
  // A worker given its key rotates when its supervisor says so (useTicketKey).
  if (timer === undefined && given === undefined) {
    timer = setInterval(rotate, ROTATE_MS);
    timer.unref?.();
  }
}

function rotate(): void {
  useTicketKey(newTicketKey());
}

/** Makes `key` the ticket key of every tracked server and of those started from now on. */
export function useTicketKey(key: Buffer): void {
  if (key.equals(current)) return;
  current = key;
  if (!SUPPORTED) return;
  for (const ref of servers) {
    const s = ref.deref();
    if (s === undefined) servers.delete(ref);
    else s.setTicketKeys(current);
  }
}
