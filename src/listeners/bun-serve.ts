// The bun-serve adapter: Bun's native server, the fastest path on Bun (~2.5x node:http2 on Bun
// for HTTP/1.1: docs/runtimes.md, "Figures"). It cannot refuse an unknown SNI (it falls back to
// the first certificate), verify client certificates per host, or show the peer certificate
// (oven-sh/bun#14097, #37196), so select.ts only hands it listeners that need none of that.
//
// New certificates: Bun.serve's reload() takes `tls` and ignores it (Bun 1.4.5, and
// oven-sh/bun#43815: only fetch, error, routes and websocket change), and a Bun.serve has no
// setSecureContext. So on Linux a TLS listener binds its port with SO_REUSEPORT, and a swap
// binds a Bun.serve with the new `tls` beside the running one, steers new connections to it
// (reuseport-steer.ts), and closes the old one's listening socket once handshakes that reached
// it have been accepted: the port is never closed, and the next handshake gets the new
// certificate. The old server finishes what is in flight (retired like bun-sni's inner servers).

import type { TLSOptions } from "bun";
import { bunTls, retiring, serveBun, stopBun, type BunServer } from "./_shared/bun.ts";
import { Retired } from "./_shared/connections.ts";
import { bunServeCannot } from "./_shared/limits-bun.ts";
import { canBindBeside, claimPort } from "./_shared/port-sharing.ts";
import { steerToNewest } from "./_shared/reuseport-steer.ts";
import type { StartListener, TlsListenerSpec } from "./_shared/types.ts";

/**
 * Said at startup for a TLS listener this adapter serves. Bun.serve answers every SETTINGS, PING,
 * WINDOW_UPDATE and empty DATA frame and shows none to JavaScript; with no front of Portico's
 * own, no traffic budget (traffic-budget.ts) can count them. bun-sni bounds them, at a cost for
 * h2 (h2load -c 10 -m 10, directResponse, twice each on a busy 2-core machine: 27.4k and 26.7k
 * req/s on bun-serve, 15.8k and 18.3k on bun-sni).
 */
export const UNBOUNDED_H2_FLOODS =
  "HTTP/2 SETTINGS, PING, WINDOW_UPDATE and empty DATA floods are not bounded on bun-serve " +
  "(Bun.serve shows no frame); --adapter bun-sni bounds them";

export const startBunServe: StartListener = async (spec) => {
  const swaps = spec.tls !== undefined && canBindBeside();
  const where = { address: spec.address, port: swaps ? await claimPort(spec) : spec.port, reusePort: swaps };
  const fetch = (req: Request, srv: BunServer) =>
    spec.handler(req, { remoteAddress: srv.requestIP(req)?.address ?? "" });
  const serve = (tls: TlsListenerSpec | undefined) => serveBun(spec, where, tls && tlsOf(tls), fetch);
  let server = serve(spec.tls);
  where.port = server.port ?? where.port;
  const retired = new Retired(stopBun);
  /** The replaced server whose listening socket closes LISTEN_OVERLAP_MS after a swap. */
  let leaving: { server: BunServer; close: () => void } | undefined;
  return {
    name: spec.name,
    port: where.port,
    unenforced: bunServeCannot(spec, false),
    close: async () => {
      leaving?.close();
      await Promise.all([stopBun([server]), retired.stopAll()]);
    },
    ...(swaps && {
      updateTls: async (next: TlsListenerSpec) => {
        // A swap before the last one's overlap ended: its old socket closes now, unsteered.
        leaving?.close();
        const fresh = serve(next);
        const old = server;
        server = fresh;
        retiring.add(old);
        const steering = steerToNewest(where.port);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const close = () => {
          if (leaving?.server !== old) return;
          leaving = undefined;
          clearTimeout(timer);
          // stop(false) closes the listening socket and idle connections; requests in flight
          // get RETIRE_AFTER_MS, then stopBun's drain.
          void old.stop(false);
          steering?.release();
          retired.add([old]);
        };
        leaving = { server: old, close };
        // Steered: no new connection reaches the old socket; one whose handshake began there
        // completes meanwhile (a SYN's answer waits a round trip). Not steered (workers share
        // the port, or no setsockopt): the old socket still takes new connections, so it closes
        // as soon as the event loop has accepted what it queued while this reload ran.
        if (steering) timer = setTimeout(close, LISTEN_OVERLAP_MS);
        else await afterPoll().then(close);
        return true;
      },
    }),
  };
};

/**
 * How long a replaced server keeps its listening socket once new connections go to its
 * successor: a client's ACK that completes a handshake begun there arrives a round trip after
 * its SYN.
 */
const LISTEN_OVERLAP_MS = 1_000;

/** Every policy's entries, chosen by SNI; the "*" server's first (Bun's answer to other names). */
function tlsOf(tls: TlsListenerSpec): TLSOptions[] {
  return bunTls(
    tls,
    tls.policies.map((_, i) => i),
    tls.defaultPolicy,
  );
}

/** Resolves after the event loop has polled sockets once more. */
const afterPoll = () => new Promise<void>((resolve) => setImmediate(resolve));
