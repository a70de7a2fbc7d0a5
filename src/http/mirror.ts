// Istio's mirror / mirrors (Envoy's request_mirror_policies): a copy of the request goes to
// another service, fire and forget; its response is read and dropped, and never delays or
// changes the client's. As in Envoy (shadow_writer_impl.cc, shadowAppendedHost), the copy's
// Host gets "-shadow" appended to its name, before any port.
// https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute (mirror)

import type { MirrorPlan } from "../provision/route-plan.ts";
import type { UpstreamClients } from "../upstream/clients.ts";
import type { UpstreamPools } from "../upstream/pools.ts";
import { portStart } from "../util/host-table.ts";
import { chance } from "../util/random.ts";
import { failureOutcome, type PoolTry, PoolTries } from "./pool-tries.ts";
import { bodyStream } from "./replay.ts";
import { classifyFailure } from "./retry.ts";

/** `webapp.example:8080` → `webapp.example-shadow:8080`. */
export function shadowHost(host: string): string {
  const port = portStart(host);
  return port < 0 ? `${host}-shadow` : `${host.slice(0, port)}-shadow${host.slice(port)}`;
}

/**
 * Sends the copies. `headers` are the ones sent to the route's destination; `body` the request
 * body read whole (null when there is none). The route timeout bounds each copy.
 */
export function shadow(
  mirrors: MirrorPlan[],
  method: string,
  pathAndQuery: string,
  headers: Headers,
  body: Uint8Array<ArrayBuffer> | null,
  timeoutMs: number,
  clients: UpstreamClients,
  pools: UpstreamPools,
): void {
  for (const m of mirrors) {
    if (!chance(m.percentage)) continue;
    const h = new Headers(headers);
    const host = h.get("host");
    if (host) h.set("host", shadowHost(host));
    const controller = new AbortController();
    const timer = timeoutMs > 0 ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
    // A pooled mirror goes through its (subset's) pool as a request would, without retries.
    const pool = m.upstream.pool;
    const tries = pool && new PoolTries(pools.for(pool.spec), pool, new Request("http://mirror/"), "", true);
    let t: PoolTry | undefined;
    const send = async () => {
      if (tries) t = await tries.start(tries.admit(false)!, timeoutMs, controller.signal);
      if (tries && !t) return;
      const res = await clients.for(m.upstream)({
        url: (t?.origin ?? m.upstream.origin) + pathAndQuery,
        method,
        headers: h,
        body: bodyStream(body),
        signal: controller.signal,
      });
      t?.report(res.status);
      await drain(res);
    };
    send()
      .catch((err) => t?.report(failureOutcome(classifyFailure(err))))
      // a mirror's failure is nobody's business but its own
      .finally(() => {
        t?.release();
        clearTimeout(timer);
      });
  }
}

/** Reads a body to its end, so the connection can be reused. */
async function drain(res: Response): Promise<void> {
  const reader = res.body?.getReader();
  if (!reader) return;
  while (!(await reader.read()).done);
}
