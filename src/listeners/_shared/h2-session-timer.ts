// A destroyed node:http2 session must not outlive its idle timer. Node's closeSession marks the
// session destroyed and then calls session.setTimeout(0) to clear the timer, but setTimeout
// returns early on a destroyed session (lib/internal/http2/core.js closeSession,
// lib/internal/stream_base_commons.js setStreamTimeout, Node 20). The armed timer (the
// listener's idle timeout, 300 s by default: server.setTimeout) then holds the session, its TLS
// socket, the front's socket and everything attached to them until it fires: ~10 KB of heap per
// closed connection for five minutes, which grew Node's heap at the connection rate in
// `npm run soak`. The same was seen in smithy-lang/smithy-typescript#2258 (fixed there by
// clearing the timer before destroy, #2259). Here too: the timer is cleared while the session is
// still alive, in front of every destroy (Node's own teardown paths call session.destroy()).

import type { Http2Session } from "node:http2";

/** Makes `session` clear its idle timer before it is destroyed. One shared function, no closure. */
export function clearTimerOnDestroy(session: Http2Session): void {
  session.destroy = destroyClearingTimer;
}

function destroyClearingTimer(this: Http2Session, error?: Error, code?: number): void {
  if (!this.destroyed) this.setTimeout(0);
  // The prototype's destroy: node:http2 exports no Http2Session class to take it from.
  Object.getPrototypeOf(this).destroy.call(this, error, code);
}
