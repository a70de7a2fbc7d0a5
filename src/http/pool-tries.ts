// The tries of one request to a pooled service, in the order pool.ts describes: admit (circuit
// breaking), wait for a connection slot, pick an endpoint (hash key, endpoints already tried),
// report the outcome, release. The proxy (proxy.ts) does the sending.
import type { PoolPlan } from "../provision/route-plan.ts";
import type { Ticket } from "../upstream/pool/circuit-breaker.ts";
import type { Outcome } from "../upstream/pool/outcome.ts";
import { type ConnectionPoolSpec, UNLIMITED } from "../upstream/pool/types.ts";
import type { Endpoint, Pool } from "../upstream/pool/pool.ts";
import { NoHealthyUpstreamError, UpstreamOverflowError } from "../util/errors.ts";
import { attachTrailers, trailersOf } from "../util/trailers.ts";
import type { TryFailure } from "./retry.ts";
import type { ProxyRequest } from "../listeners/_shared/types.ts";

/** One admitted try on one endpoint. */
export interface PoolTry {
  /** `scheme://address:port`, to which the path is appended. */
  origin: string;
  /** Reports how the try ended (once): a status or a failure. */
  report(outcome: Outcome): void;
  /**
   * Gives back the circuit-breaker slot: at once on failure; for a response, when its body is
   * done with if `holdsBody`, else at once.
   */
  release(): void;
  /**
   * True when the pool has a connection or request limit: a response then holds its slot until
   * its body ends, as an HTTP/1 connection does. Without limits nothing waits for the slot, so
   * it is given back with the headers (wrapping the body costs ~20 µs a request, measured).
   */
  holdsBody: boolean;
}

export class PoolTries {
  private readonly tried = new Set<Endpoint>();
  private readonly hashKey: string | undefined;
  /** A `set-cookie` for the response, when a consistent-hash cookie was generated. */
  readonly setCookie: string | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly plan: PoolPlan,
    req: ProxyRequest,
    clientIp: string,
    /** Istio's retryIgnorePreviousHosts (true without retries: there is no earlier try anyway). */
    private readonly ignorePreviousHosts: boolean,
  ) {
    const h = pool.hashKey(req, clientIp);
    this.hashKey = h.key;
    this.setCookie = h.setCookie;
  }

  /**
   * A slot for the next try, or undefined when a retry finds max_retries used up (Envoy then
   * returns what the last try got). The first try's overflow is the 503 (UpstreamOverflowError).
   */
  admit(retry: boolean): Ticket | undefined {
    const t = this.pool.admit({ retry });
    if (typeof t !== "string") return t;
    if (t === "max-retries") return undefined;
    throw new UpstreamOverflowError("overflow");
  }

  /**
   * Waits for a connection slot (at most `waitMs`, 0: no limit, or until `signal` aborts), then
   * picks an endpoint. Undefined: the wait ran out (a timeout of this try).
   */
  async start(ticket: Ticket, waitMs: number, signal: AbortSignal): Promise<PoolTry | undefined> {
    if (ticket.waits && !(await settled(ticket.ready, waitMs, signal))) {
      ticket.release();
      return undefined;
    }
    const exclude = this.ignorePreviousHosts ? this.tried : undefined;
    const e = this.pool.pick({ ...(this.hashKey === undefined ? {} : { hashKey: this.hashKey }), exclude });
    if (!e) {
      ticket.release();
      throw new NoHealthyUpstreamError(`no healthy endpoint in ${this.pool.service}`);
    }
    this.tried.add(e);
    this.pool.begin(e);
    let reported = false;
    return {
      origin: `${this.plan.scheme}://${e.key}`,
      report: (outcome) => {
        if (reported) return;
        reported = true;
        this.pool.end(e, outcome);
      },
      release: () => ticket.release(),
      holdsBody: limited(this.plan.spec.connectionPool),
    };
  }
}

function limited(c: ConnectionPoolSpec): boolean {
  return (
    c.maxConnections < UNLIMITED || c.http1MaxPendingRequests < UNLIMITED || c.http2MaxRequests < UNLIMITED
  );
}

/** A try's failure as the pool counts it (a refused stream is a reset of the stream). */
export function failureOutcome(f: TryFailure): Outcome {
  return f === "connect" ? "connect-failure" : f === "timeout" ? "timeout" : "reset";
}

/** The response, calling `release` once its body has been read to the end or cancelled. */
export function releasedAfterBody(res: Response, release: () => void): Response {
  if (!res.body) {
    release();
    return res;
  }
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        release();
        controller.error(err);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  // The trailers an HTTP/2 upstream promised follow the body they belong to (util/trailers.ts).
  const trailers = trailersOf(res);
  if (trailers) attachTrailers(body, trailers);
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** True when `ready` settles first; false when `waitMs` passes or `signal` aborts. */
async function settled(ready: Promise<void>, waitMs: number, signal: AbortSignal): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const giveUp = new Promise<boolean>((resolve) => {
    if (waitMs > 0) timer = setTimeout(() => resolve(false), waitMs);
    onAbort = () => resolve(false);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([ready.then(() => true), giveUp]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort!);
  }
}
