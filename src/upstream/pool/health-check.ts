// Active health checks (Portico's addition, as Caddy's health_uri and Traefik's healthCheck) with
// Envoy's state machine (source/common/upstream/health_checker_impl.cc, health_check.proto):
// a host starts unhealthy and one passing check makes it healthy at startup (Envoy's choice, not
// Caddy's start-healthy, so no request goes to an endpoint nobody has seen answer); after that
// `healthyThreshold` passes in a row; `unhealthyThreshold` network failures or timeouts in a row
// make it unhealthy, but a response with an unexpected status does so at once (Envoy ignores the
// threshold for those). Probes use node:http, node:https and node:net, on Bun, Deno and Node.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { type Later, later } from "../../util/timers.ts";
import type { HealthCheckSpec } from "./types.ts";

export type ProbeResult = { ok: true } | { ok: false; network: boolean; reason: string };

export interface ProbeTarget {
  address: string;
  port: number;
}

/** One check: GET `path` expecting a status in range, or a TCP connect, within `timeoutMs`. */
export function probe(target: ProbeTarget, spec: HealthCheckSpec, service: string): Promise<ProbeResult> {
  return spec.kind === "tcp" ? probeTcp(target, spec.timeoutMs) : probeHttp(target, spec, service);
}

function probeTcp(target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = connect({ host: target.address, port: target.port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, network: true, reason: "timeout" }), timeoutMs);
    sock.once("connect", () => done({ ok: true }));
    sock.once("error", (e: NodeJS.ErrnoException) =>
      done({ ok: false, network: true, reason: e.code ?? e.message }),
    );
  });
}

function probeHttp(target: ProbeTarget, spec: HealthCheckSpec, service: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const https = spec.scheme === "https";
    const options = {
      host: target.address,
      port: target.port,
      path: spec.path,
      method: "GET",
      headers: { host: spec.host ?? service, "user-agent": "portico-health-check" },
      agent: false as const,
      ...(https
        ? {
            ca: spec.tls?.ca,
            servername: spec.tls?.servername ?? spec.host ?? service,
            rejectUnauthorized: !spec.tls?.insecureSkipVerify,
          }
        : {}),
    };
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = (https ? httpsRequest : httpRequest)(options, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      const ok = spec.expectedStatuses.some(([lo, hi]) => status >= lo && status <= hi);
      done(ok ? { ok: true } : { ok: false, network: false, reason: `status ${status}` });
    });
    const timer = setTimeout(() => done({ ok: false, network: true, reason: "timeout" }), spec.timeoutMs);
    req.once("error", (e: NodeJS.ErrnoException) =>
      done({ ok: false, network: true, reason: e.code ?? e.message }),
    );
    req.end();
  });
}

/** One endpoint's active-check state: Envoy's thresholds, fed one result at a time. */
export class HealthCheckState {
  healthy = false;
  lastReason: string | undefined;
  private checked = false;
  private passes = 0;
  private failures = 0;

  /** Applies one result; true when `healthy` changed. */
  record(result: ProbeResult, spec: HealthCheckSpec): boolean {
    const first = !this.checked;
    this.checked = true;
    const was = this.healthy;
    if (result.ok) {
      this.failures = 0;
      this.lastReason = undefined;
      if (!this.healthy && (++this.passes >= spec.healthyThreshold || first)) this.healthy = true;
    } else {
      this.passes = 0;
      this.lastReason = result.reason;
      if (this.healthy && (!result.network || ++this.failures >= spec.unhealthyThreshold)) {
        this.healthy = false;
        this.failures = 0;
      }
    }
    return was !== this.healthy;
  }
}

/**
 * Runs the checks: each target is checked at once when added, then `intervalMs` after its last
 * check finished (so a slow endpoint never has two checks in flight). Timers are unref'd: they
 * never keep the process alive.
 */
export class HealthChecker<T extends ProbeTarget> {
  private readonly timers = new Map<T, Later | "running">();
  private closed = false;

  constructor(
    private readonly spec: HealthCheckSpec,
    private readonly service: string,
    private readonly onResult: (target: T, result: ProbeResult) => void,
    private readonly check: typeof probe = probe,
  ) {}

  add(target: T): void {
    if (this.closed || this.timers.has(target)) return;
    this.run(target);
  }

  remove(target: T): void {
    const t = this.timers.get(target);
    if (t !== undefined && t !== "running") t.cancel();
    this.timers.delete(target);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.keys()) this.remove(t);
  }

  private run(target: T): void {
    this.timers.set(target, "running");
    this.check(target, this.spec, this.service).then((result) => {
      if (this.closed || !this.timers.has(target)) return;
      this.onResult(target, result);
      this.timers.set(
        target,
        later(this.spec.intervalMs, () => this.run(target)),
      );
    });
  }
}
