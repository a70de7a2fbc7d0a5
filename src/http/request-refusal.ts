// Requests refused before routing because of how they are addressed, the same on every adapter.
// The runtimes' HTTP/1.1 parsers refuse most malformed heads themselves (what each adapter does
// is in test/e2e/hostile-http1.test.ts); what some let through is caught here, once, from what
// every adapter's Request shows.

import { validAuthority } from "./authority.ts";
import type { ProxyRequest } from "../listeners/_shared/types.ts";

/**
 * The status to refuse the request with, or undefined. `authority`: the one the request is
 * routed and forwarded by (an absolute-form target's, else Host or :authority).
 */
export function refusal(req: ProxyRequest, authority: string): 400 | 405 | undefined {
  // A tunnel to anywhere: no route allows one (Istio's VirtualService has no CONNECT match; Envoy
  // answers 404 without a connect_matcher route). 405, as h2 CONNECT gets (node-upgrade.ts).
  if (req.method === "CONNECT") return 405;
  // RFC 9112 §3.2: 400 for an invalid Host. Two Host lines arrive joined with ", ", which no
  // valid authority contains; an absolute-form target's authority is checked as well.
  const host = req.headers.get("host");
  if (host !== null && !validAuthority(host)) return 400;
  if (!validAuthority(authority)) return 400;
  // Transfer codings other than chunked are refused by the adapter (node-http.ts) as the request
  // arrives: a check here would come after a pipelined request behind it was read.
  return undefined;
}
