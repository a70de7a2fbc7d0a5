// Passive health: Envoy's outlier detector (source/common/upstream/outlier_detection_impl.cc)
// with the consecutive-error detectors Istio configures; success-rate detection is off, as Istio
// sets enforcing_success_rate 0. The clock is injected, so tests drive it exactly.
import { isGatewayError, type Outcome, outcomeStatus } from "./outcome.ts";
import type { OutlierDetectionSpec } from "./types.ts";

interface Monitor {
  consecutive5xx: number;
  consecutiveGateway: number;
  consecutiveLocal: number;
  ejected: boolean;
  lastEjectionAt: number;
  /** Envoy's eject_time_backoff: the multiplier of baseEjectionTime for the current ejection. */
  backoff: number;
  ejections: number;
}

export type EjectionReason = "consecutive-5xx" | "consecutive-gateway-errors" | "consecutive-local-origin";

export class OutlierDetector<E> {
  private readonly monitors = new Map<E, Monitor>();
  private ejectedCount = 0;

  constructor(
    private spec: OutlierDetectionSpec,
    private readonly now: () => number,
  ) {}

  /** New settings from a reload; ejections and counters carry over. */
  setSpec(spec: OutlierDetectionSpec): void {
    this.spec = spec;
  }

  add(e: E): void {
    if (this.monitors.has(e)) return;
    this.monitors.set(e, {
      consecutive5xx: 0,
      consecutiveGateway: 0,
      consecutiveLocal: 0,
      ejected: false,
      lastEjectionAt: 0,
      backoff: 0,
      ejections: 0,
    });
  }

  remove(e: E): void {
    if (this.monitors.get(e)?.ejected) this.ejectedCount--;
    this.monitors.delete(e);
  }

  isEjected(e: E): boolean {
    return this.monitors.get(e)?.ejected ?? false;
  }

  ejections(e: E): number {
    return this.monitors.get(e)?.ejections ?? 0;
  }

  /** When the current ejection of `e` ends (ms on the injected clock), if it is ejected. */
  ejectedUntil(e: E): number | undefined {
    const m = this.monitors.get(e);
    return m?.ejected ? m.lastEjectionAt + this.ejectionTime(m) : undefined;
  }

  /**
   * Counts one outcome. The counter that reaches its threshold (exactly, `++n == threshold` as
   * Envoy) ejects at once, not at the next interval. Returns the ejection it caused, if any.
   */
  report(e: E, outcome: Outcome): EjectionReason | undefined {
    const m = this.monitors.get(e);
    if (!m) return undefined;
    const s = this.spec;
    if (s.splitExternalLocalOriginErrors) {
      // putResultWithLocalExternalSplit: local-origin failures have their own counter; a
      // response means the connection worked, which resets it.
      if (typeof outcome !== "number") {
        if (++m.consecutiveLocal === s.consecutiveLocalOriginFailures) {
          m.consecutiveLocal = 0;
          return this.eject(m, "consecutive-local-origin");
        }
        return undefined;
      }
      m.consecutiveLocal = 0;
    }
    return this.putStatus(m, outcomeStatus(outcome));
  }

  /** Envoy's putHttpResponseCode. */
  private putStatus(m: Monitor, status: number): EjectionReason | undefined {
    const s = this.spec;
    if (status < 500 || status > 599) {
      m.consecutive5xx = 0;
      m.consecutiveGateway = 0;
      return undefined;
    }
    let reason: EjectionReason | undefined;
    if (isGatewayError(status)) {
      if (++m.consecutiveGateway === s.consecutiveGatewayErrors) {
        m.consecutiveGateway = 0;
        reason = this.eject(m, "consecutive-gateway-errors");
      }
    } else {
      m.consecutiveGateway = 0;
    }
    if (++m.consecutive5xx === s.consecutive5xxErrors) {
      m.consecutive5xx = 0;
      reason = this.eject(m, "consecutive-5xx") ?? reason;
    }
    return reason;
  }

  /**
   * Envoy's ejectHost: an already ejected host stays as it is; otherwise it is ejected only if
   * the share of ejected hosts, itself included, stays within maxEjectionPercent
   * (100 × (ejected + 1) / hosts ≤ max; Istio does not set always_eject_one_host, so with the
   * default 10% a pool of fewer than 10 endpoints ejects none). Each ejection raises the
   * multiplier while multiplier × base < max + base.
   */
  private eject(m: Monitor, reason: EjectionReason): EjectionReason | undefined {
    if (m.ejected) return undefined;
    const share = (100 * (this.ejectedCount + 1)) / this.monitors.size;
    if (share > Math.min(100, this.spec.maxEjectionPercent)) return undefined;
    m.ejected = true;
    m.ejections++;
    m.lastEjectionAt = this.now();
    this.ejectedCount++;
    const { baseEjectionTimeMs: base, maxEjectionTimeMs: max } = this.spec;
    if (m.backoff * base < max + base) m.backoff++;
    return reason;
  }

  private ejectionTime(m: Monitor): number {
    return Math.min(this.spec.baseEjectionTimeMs * m.backoff, this.maxEjectionTime());
  }

  /** Envoy uses max(base, max_ejection_time) as the cap, so a base above the max still applies. */
  private maxEjectionTime(): number {
    return Math.max(this.spec.baseEjectionTimeMs, this.spec.maxEjectionTimeMs);
  }

  /**
   * The interval sweep (Envoy's onIntervalTimer → checkHostForUneject): an ejected host whose
   * time min(base × multiplier, max) has passed returns with its counters reset; a host that
   * was not ejected has its multiplier lowered by one, so a host that keeps failing is ejected
   * for longer each time and one that recovered earns the short time back. Returns the hosts
   * that returned.
   */
  sweep(): E[] {
    const now = this.now();
    const returned: E[] = [];
    for (const [e, m] of this.monitors) {
      if (!m.ejected) {
        if (m.backoff > 0) m.backoff--;
        continue;
      }
      if (this.ejectionTime(m) <= now - m.lastEjectionAt) {
        m.ejected = false;
        this.ejectedCount--;
        m.consecutive5xx = 0;
        m.consecutiveGateway = 0;
        m.consecutiveLocal = 0;
        returned.push(e);
      }
    }
    return returned;
  }
}
