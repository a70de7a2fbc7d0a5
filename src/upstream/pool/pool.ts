// One service's endpoints and what decides which one serves the next try: load balancing over
// the healthy endpoints (outlier detection and active checks decide which), circuit breaking,
// DNS following, and the state the admin listener shows. Built from a PoolSpec (plain data);
// the proxy asks `admit` and `pick` before a try and reports with `begin`/`end` and the ticket.
//
// One try, as the proxy runs it:
//   const ticket = pool.admit({ retry });        // Overflow → 503, x-envoy-overloaded (UO)
//   await ticket.ready;                          // a connection (bounded wait as pending)
//   const e = pool.pick({ hashKey, exclude });   // undefined → 503 "no healthy upstream" (UH)
//   pool.begin(e); ...send to e.key...; pool.end(e, status | "connect-failure" | ...);
//   ticket.release();
import { pickWeighted } from "../../util/random.ts";
import { hostPort } from "../../util/host-table.ts";
import { type Balanced, type Balancer, createBalancer } from "./balancers.ts";
import {
  type AdmitOptions,
  CircuitBreaker,
  type CircuitCounts,
  type Overflow,
  type Ticket,
} from "./circuit-breaker.ts";
import { type DnsResolutionError, DnsResolver, type DnsStatus, type Lookup } from "./dns.ts";
import { xxHash64 } from "./hash.ts";
import { type HashKey, hashKeyFor, type KeyedRequest } from "./hash-key.ts";
import { HealthChecker, HealthCheckState, type ProbeResult, type probe } from "./health-check.ts";
import type { Outcome } from "./outcome.ts";
import { type EjectionReason, OutlierDetector } from "./outlier.ts";
import { type Later, later } from "../../util/timers.ts";
import type { EndpointSpec, PoolSpec } from "./types.ts";

/** One endpoint as the proxy sees it: where to send the try. The same object while it stays. */
export interface Endpoint extends Balanced {
  readonly address: string;
  readonly port: number;
  /** `address:port`, with IPv6 in brackets: the URL authority to connect to. */
  readonly key: string;
  readonly weight: number;
  readonly labels: Readonly<Record<string, string>>;
  /** The DNS name this address came from (DNS resolution only). */
  readonly hostname?: string;
  /** Tries in flight. */
  readonly active: number;
}

class PoolEndpoint implements Endpoint {
  readonly key: string;
  active = 0;
  check: HealthCheckState | undefined;
  constructor(
    readonly address: string,
    readonly port: number,
    public weight: number,
    public labels: Readonly<Record<string, string>>,
    readonly hostname: string | undefined,
  ) {
    this.key = hostPort(address, port);
  }
}

export type Health = "healthy" | "ejected" | "failing-check";

export interface EndpointSnapshot {
  address: string;
  port: number;
  hostname?: string;
  weight: number;
  labels: Record<string, string>;
  health: Health;
  /** Active check: "passing", "failing" (with the last reason) or "off". */
  activeCheck: "passing" | "failing" | "off";
  lastCheckFailure?: string;
  ejected: boolean;
  ejectedUntil?: number;
  ejections: number;
  activeRequests: number;
}

export interface PoolSnapshot {
  service: string;
  resolution: PoolSpec["resolution"];
  loadBalancer: PoolSpec["loadBalancer"]["kind"];
  /** True while healthy endpoints are below minHealthPercent and all of them take traffic. */
  panic: boolean;
  circuit: CircuitCounts;
  dns?: DnsStatus;
  endpoints: EndpointSnapshot[];
}

export type PoolEvent =
  | { kind: "ejected"; endpoint: Endpoint; reason: EjectionReason }
  | { kind: "returned"; endpoint: Endpoint }
  | { kind: "check"; endpoint: Endpoint; healthy: boolean; reason?: string }
  | { kind: "dns-error"; error: DnsResolutionError };

export interface PoolOptions {
  /** Milliseconds; injected so outlier tests are exact. */
  now?: () => number;
  random?: () => number;
  /** Run the outlier sweep on a timer (default true); tests call `sweep()` themselves. */
  timers?: boolean;
  lookup?: Lookup;
  probe?: typeof probe;
  onEvent?: (event: PoolEvent) => void;
}

export interface PickContext {
  /** From `hashKey()`, for a consistent-hash pool. */
  hashKey?: string;
  /**
   * Endpoints earlier tries used (Istio's retryIgnorePreviousHosts, default true): another
   * endpoint is chosen whenever there is one.
   */
  exclude?: ReadonlySet<Endpoint>;
}

/** How many times a pick may land on an excluded host before the pool looks elsewhere (Istio's 5). */
const HOST_SELECTION_ATTEMPTS = 5;

export class Pool {
  private spec: PoolSpec;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly opts: PoolOptions;
  private endpoints = new Map<string, PoolEndpoint>();
  private outlier: OutlierDetector<PoolEndpoint> | undefined;
  private checker: HealthChecker<PoolEndpoint> | undefined;
  private dns: DnsResolver | undefined;
  private sweepTimer: Later | undefined;
  private readonly breaker: CircuitBreaker;
  private readonly ringCache = new Map<string, bigint[]>();
  /** The hosts being balanced and their balancer, rebuilt when health or membership changes. */
  private current: { hosts: PoolEndpoint[]; panic: boolean; balancer: Balancer<PoolEndpoint> } | undefined;
  private closed = false;
  /** Settles when the endpoints are known: at once for STATIC, after the first lookups for DNS. */
  ready: Promise<void> = Promise.resolve();

  constructor(spec: PoolSpec, opts: PoolOptions = {}) {
    this.spec = spec;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.breaker = new CircuitBreaker(spec.connectionPool);
    this.configure(spec, undefined);
  }

  get service(): string {
    return this.spec.service;
  }

  /** Every endpoint, healthy or not. */
  all(): readonly Endpoint[] {
    return [...this.endpoints.values()];
  }

  /** The hash key of `request` for a consistent-hash pool (none for the other policies). */
  hashKey(request: KeyedRequest, clientIp: string): HashKey {
    const lb = this.spec.loadBalancer;
    return lb.kind === "CONSISTENT_HASH" ? hashKeyFor(lb.key, request, clientIp) : {};
  }

  /**
   * The endpoint for the next try, or undefined when none may take it (Envoy's 503 "no healthy
   * upstream"). An excluded endpoint is picked only when every candidate is excluded.
   */
  pick(ctx: PickContext = {}): Endpoint | undefined {
    const { hosts, balancer } = this.balanced();
    const hash = ctx.hashKey === undefined ? undefined : xxHash64(ctx.hashKey);
    let chosen: PoolEndpoint | undefined;
    for (let attempt = 0; attempt < HOST_SELECTION_ATTEMPTS; attempt++) {
      chosen = balancer.pick(hash, attempt);
      if (!chosen || !ctx.exclude?.has(chosen)) return chosen;
    }
    const others = hosts.filter((h) => h.weight > 0 && !ctx.exclude!.has(h));
    const total = others.reduce((a, h) => a + h.weight, 0);
    return pickWeighted({ upstreams: others, totalWeight: total }, this.random) ?? chosen;
  }

  /** Asks the circuit breaker for a try; an Overflow is Envoy's 503 with the UO flag. */
  admit(opts: AdmitOptions = {}): Ticket | Overflow {
    return this.breaker.admit(opts);
  }

  /** A try starts on `endpoint` (counted for LEAST_REQUEST and the listing). */
  begin(endpoint: Endpoint): void {
    (endpoint as PoolEndpoint).active++;
  }

  /** A try on `endpoint` ended; outlier detection counts the outcome. */
  end(endpoint: Endpoint, outcome: Outcome): void {
    const e = endpoint as PoolEndpoint;
    if (e.active > 0) e.active--;
    if (!this.outlier || this.endpoints.get(e.key) !== e) return;
    const reason = this.outlier.report(e, outcome);
    if (reason) {
      this.current = undefined;
      this.opts.onEvent?.({ kind: "ejected", endpoint: e, reason });
    }
  }

  /** The outlier interval: returns ejected endpoints whose time is over. Run by a timer too. */
  sweep(): void {
    if (!this.outlier) return;
    const returned = this.outlier.sweep();
    if (returned.length > 0) this.current = undefined;
    for (const e of returned) this.opts.onEvent?.({ kind: "returned", endpoint: e });
  }

  snapshot(): PoolSnapshot {
    const { panic } = this.balanced();
    return {
      service: this.spec.service,
      resolution: this.spec.resolution,
      loadBalancer: this.spec.loadBalancer.kind,
      panic,
      circuit: this.breaker.counts(),
      ...(this.dns ? { dns: this.dns.status() } : {}),
      endpoints: [...this.endpoints.values()].map((e) => {
        const ejected = this.outlier?.isEjected(e) ?? false;
        const checkFailing = e.check !== undefined && !e.check.healthy;
        const ejectedUntil = this.outlier?.ejectedUntil(e);
        return {
          address: e.address,
          port: e.port,
          ...(e.hostname ? { hostname: e.hostname } : {}),
          weight: e.weight,
          labels: { ...e.labels },
          health: checkFailing ? "failing-check" : ejected ? "ejected" : "healthy",
          activeCheck: e.check ? (e.check.healthy ? "passing" : "failing") : "off",
          ...(e.check?.lastReason ? { lastCheckFailure: e.check.lastReason } : {}),
          ejected,
          ...(ejectedUntil !== undefined ? { ejectedUntil } : {}),
          ejections: this.outlier?.ejections(e) ?? 0,
          activeRequests: e.active,
        };
      }),
    };
  }

  /**
   * A new spec from a reload: endpoints that stay keep their state (tries in flight, ejections,
   * check results); new ones start as a new endpoint does; removed ones leave.
   */
  update(spec: PoolSpec): void {
    const previous = this.spec;
    this.spec = spec;
    this.breaker.setLimits(spec.connectionPool);
    this.configure(spec, previous);
  }

  /** Stops every timer and check. The pool still answers `pick` with what it had. */
  close(): void {
    this.closed = true;
    this.sweepTimer?.cancel();
    this.checker?.close();
    this.dns?.close();
  }

  private configure(spec: PoolSpec, previous: PoolSpec | undefined): void {
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

    if (!spec.outlierDetection) this.outlier = undefined;
    else if (this.outlier) this.outlier.setSpec(spec.outlierDetection);
    else {
      this.outlier = new OutlierDetector(spec.outlierDetection, this.now);
      for (const e of this.endpoints.values()) this.outlier.add(e);
    }
    if (!previous || !same(previous.outlierDetection?.intervalMs, spec.outlierDetection?.intervalMs)) {
      this.sweepTimer?.cancel();
      this.sweepTimer = undefined;
      if (spec.outlierDetection && this.opts.timers !== false)
        this.scheduleSweep(spec.outlierDetection.intervalMs);
    }

    if (!previous || !same(previous.healthCheck, spec.healthCheck)) {
      this.checker?.close();
      this.checker = undefined;
      if (spec.healthCheck) {
        const hc = spec.healthCheck;
        this.checker = new HealthChecker<PoolEndpoint>(
          hc,
          spec.service,
          (e, r) => this.onCheck(e, r),
          this.opts.probe,
        );
      }
      for (const e of this.endpoints.values()) {
        if (!spec.healthCheck) e.check = undefined;
        else {
          e.check ??= new HealthCheckState();
          this.checker?.add(e);
        }
      }
      this.current = undefined;
    }

    const dnsChanged =
      !previous ||
      previous.resolution !== spec.resolution ||
      !same(previous.endpoints, spec.endpoints) ||
      previous.dnsRefreshMs !== spec.dnsRefreshMs;
    if (spec.resolution === "STATIC") {
      this.dns?.close();
      this.dns = undefined;
      this.setEndpoints(spec.endpoints);
    } else if (dnsChanged) {
      this.dns?.close();
      this.dns = new DnsResolver(
        spec.endpoints,
        spec.resolution,
        spec.dnsRefreshMs,
        (resolved) => this.setEndpoints(resolved),
        (error) => this.opts.onEvent?.({ kind: "dns-error", error }),
        this.opts.lookup,
        this.now,
      );
      this.ready = this.dns.ready;
    }
    this.current = undefined;
  }

  private scheduleSweep(intervalMs: number): void {
    this.sweepTimer = later(intervalMs, () => {
      if (this.closed) return;
      this.sweep();
      this.scheduleSweep(intervalMs);
    });
  }

  /** Replaces the endpoint list, keeping the objects (and state) of addresses that stay. */
  private setEndpoints(specs: readonly (EndpointSpec & { hostname?: string })[]): void {
    if (this.closed) return;
    const next = new Map<string, PoolEndpoint>();
    for (const s of specs) {
      const key = hostPort(s.address, s.port);
      if (next.has(key)) continue;
      let e = this.endpoints.get(key);
      if (e) {
        e.weight = s.weight;
        e.labels = s.labels;
      } else {
        e = new PoolEndpoint(s.address, s.port, s.weight, s.labels, s.hostname);
        if (this.spec.healthCheck) e.check = new HealthCheckState();
      }
      next.set(key, e);
    }
    for (const [key, e] of this.endpoints) {
      if (next.has(key)) continue;
      this.outlier?.remove(e);
      this.checker?.remove(e);
      this.ringCache.delete(key);
    }
    const added = [...next.values()].filter((e) => !this.endpoints.has(e.key));
    this.endpoints = next;
    for (const e of added) {
      this.outlier?.add(e);
      this.checker?.add(e);
    }
    this.current = undefined;
  }

  private onCheck(e: PoolEndpoint, result: ProbeResult): void {
    if (!e.check || !this.spec.healthCheck) return;
    if (e.check.record(result, this.spec.healthCheck)) {
      this.current = undefined;
      this.opts.onEvent?.({
        kind: "check",
        endpoint: e,
        healthy: e.check.healthy,
        ...(e.check.lastReason ? { reason: e.check.lastReason } : {}),
      });
    }
  }

  /**
   * The hosts to balance over: those with a weight that pass their active check and are not
   * ejected; all of them in panic, when the healthy share is below minHealthPercent (Envoy's
   * healthy_panic_threshold, counted in hosts). Without an outlierDetection block the threshold
   * is 0 (no panic): Istio writes minHealthPercent, default 0, only with the block, and without
   * it Envoy's only unhealthy hosts would be ones Istio never sends.
   */
  private balanced(): { hosts: PoolEndpoint[]; panic: boolean; balancer: Balancer<PoolEndpoint> } {
    if (this.current) return this.current;
    const all = [...this.endpoints.values()].filter((e) => e.weight > 0);
    const healthy = all.filter((e) => (!e.check || e.check.healthy) && !this.outlier?.isEjected(e));
    const threshold = this.spec.outlierDetection?.minHealthPercent ?? 0;
    const panic = all.length > 0 && (100 * healthy.length) / all.length < threshold;
    const hosts = panic ? all : healthy;
    const balancer = createBalancer(this.spec.loadBalancer, hosts, {
      random: this.random,
      ringCache: this.ringCache,
    });
    this.current = { hosts, panic, balancer };
    return this.current;
  }
}
