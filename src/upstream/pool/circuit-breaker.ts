// Circuit breaking: Envoy's cluster resource limits (circuit_breaker.proto, conn_pool_base.cc)
// from Istio's connectionPool. A request that finds no connection waits as pending, up to
// http1MaxPendingRequests; beyond any limit the answer is an overflow at once (Envoy's 503 with
// the UO flag and `x-envoy-overloaded: true`), never a queue that grows without bound.
import type { ConnectionPoolSpec } from "./types.ts";

/** Which limit refused: Envoy's upstream_rq_pending_overflow, _active_overflow, _retry_overflow. */
export type Overflow = "pending-requests" | "max-requests" | "max-retries";

/** One admitted try: wait for `ready` (a connection), then `release()` once, whatever happened. */
export interface Ticket {
  /** Resolves when the request holds a connection; at once when one was free. */
  readonly ready: Promise<void>;
  /** False when a connection was free at admission (`ready` is already settled): no need to wait. */
  readonly waits: boolean;
  /** Gives back what the try held (or its place in the queue). Idempotent. */
  release(): void;
}

export interface AdmitOptions {
  /** A retry also needs a slot under maxRetries (Envoy checks it before anything else). */
  retry?: boolean;
  /**
   * HTTP/2 multiplexes: one connection carries every request, so maxConnections never makes
   * one wait; http2MaxRequests is the limit that applies.
   */
  multiplexed?: boolean;
}

export interface CircuitCounts {
  connections: number;
  pending: number;
  requests: number;
  retries: number;
}

export class CircuitBreaker {
  private connections = 0;
  private requests = 0;
  private retries = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private limits: ConnectionPoolSpec) {}

  /** New limits from a reload; what is held stays held. */
  setLimits(limits: ConnectionPoolSpec): void {
    this.limits = limits;
    this.drain();
  }

  counts(): CircuitCounts {
    return {
      connections: this.connections,
      pending: this.queue.length,
      requests: this.requests,
      retries: this.retries,
    };
  }

  /**
   * Asks for one try. In Envoy's order: the retry budget (max_retries), then a free connection
   * and max_requests, else a pending slot (max_pending_requests). An HTTP/1 request in flight
   * holds one connection (maxConnections); HTTP/2 only counts requests.
   */
  admit(opts: AdmitOptions = {}): Ticket | Overflow {
    const l = this.limits;
    if (opts.retry && this.retries >= l.maxRetries) return "max-retries";
    if (this.requests >= l.http2MaxRequests) return "max-requests";
    const needsConnection = !opts.multiplexed;
    const connectionFree = !needsConnection || this.connections < l.maxConnections;
    if (!connectionFree && this.queue.length >= l.http1MaxPendingRequests) return "pending-requests";

    this.requests++;
    if (opts.retry) this.retries++;
    let holdsConnection = false;
    let released = false;
    let waiter: (() => void) | undefined;
    const ready = new Promise<void>((resolve) => {
      if (connectionFree) {
        if (needsConnection) {
          this.connections++;
          holdsConnection = true;
        }
        resolve();
        return;
      }
      waiter = () => {
        waiter = undefined;
        holdsConnection = true;
        this.connections++;
        resolve();
      };
      this.queue.push(waiter);
    });
    return {
      ready,
      waits: !connectionFree,
      release: () => {
        if (released) return;
        released = true;
        this.requests--;
        if (opts.retry) this.retries--;
        if (waiter) {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
        }
        if (holdsConnection) this.connections--;
        this.drain();
      },
    };
  }

  /** Hands freed connections to the requests waiting for one, oldest first. */
  private drain(): void {
    while (this.queue.length > 0 && this.connections < this.limits.maxConnections) this.queue.shift()!();
  }
}
