// The Prometheus metrics: a TrafficObserver sink that counts what the records say, plus gauges
// read at scrape time (certificate expiry, access-log drops) and the reload bookkeeping the CLI
// reports. prom-client 15 on its own Registry (never the global one), checked on Bun, Deno, Node
// and in the compiled binary.
//
// Names follow one scheme, `portico_<area>_<what>_<unit>`, in base units (seconds, bytes), with
// `_total` on counters, as Prometheus' naming guide asks (prometheus.io/docs/practices/naming);
// what is counted follows Envoy's statistics (downstream_rq_xx, downstream_rq_time,
// upstream_rq_time, upstream_cx_connect_fail, upstream_rq_timeout, upstream_rq_retry,
// upstream_rq_pending_overflow, downstream_cx_active, ssl.handshake, ssl.connection_error)
// and Caddy's label choices (server/handler/code/method on caddy_http_requests_total).
//
// Label cardinality is bounded by the configuration, never by traffic: listener, vhost (the
// configured virtual host, not the Host header), route (its configured name; "" when unnamed),
// service (configured), code class, method (the standard ones, anything else "OTHER"),
// response flag and handshake reason (closed sets). No path, client address or Host header.

import type { AcmeStatus } from "../acme/manager.ts";
import { collectProcessMetrics, Counter, Gauge, Registry } from "./prom-client.ts";
import type { Plan } from "../provision/plan.ts";
import { daysLeft } from "../util/days.ts";
import { type HistogramSeries, LeanHistogram } from "./lean-histogram.ts";
import type {
  ConnectionRecord,
  HandshakeOutcome,
  RequestRecord,
  ResponseFlag,
  TrafficObserver,
} from "./records.ts";
import { type Level, LevelGauge, type Tally, TalliedCounter } from "./tally.ts";

/**
 * Seconds. From 0.5 ms (a direct response or redirect) to 60 s (past the 15 s default route
 * timeout, so slow upstreams land in a bucket of their own); roughly 1-2.5-5 per decade, as
 * Envoy's default histogram buckets (0.5 ms … 1 h) and Prometheus' defaults (5 ms … 10 s) are.
 */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
const CODE_CLASSES = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"];

/** "2xx" for 204; "none" when no status was sent (the client left first). */
export function codeClass(status: number): string {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? CODE_CLASSES[c]! : "none";
}

export interface MetricsOptions {
  /** The plan being served, read at each scrape (certificate expiry). */
  plan?: () => Plan | undefined;
  /** The ACME credentials' states, read at each scrape (acme/manager.ts). */
  acme?: () => AcmeStatus[];
  /** Access-log lines dropped so far because its buffer was full (log-writer.ts). */
  accessLogDropped?: () => number;
  /** process_* and nodejs_* metrics (prom-client's default collectors); default on. */
  processMetrics?: boolean;
  now?: () => Date;
}

/** The series of one request label set, looked up once and kept (tally.ts: why not prom-client's). */
interface RequestSeries {
  requests: Tally;
  duration: HistogramSeries;
  received: Tally;
  sent: Tally;
}

interface ServiceSeries {
  serviceTime: HistogramSeries;
  connectFailures: Tally;
  timeouts: Tally;
  resets: Tally;
  retries: Tally;
  overflow: Tally;
}

/** Per listener: the series touched on every connection and request. */
interface ListenerSeries {
  connectionsTotal: Tally;
  connectionsActive: Level;
  requestsActive: Level;
}

export class Metrics implements TrafficObserver {
  readonly registry = new Registry();
  private gen = 1;
  private readonly requestSeries = new Map<string, RequestSeries>();
  private readonly serviceSeries = new Map<string, ServiceSeries>();
  private readonly listenerSeries = new Map<string, ListenerSeries>();

  private readonly requests: TalliedCounter;
  private readonly requestDuration: LeanHistogram;
  private readonly requestBytes: TalliedCounter;
  private readonly responseBytes: TalliedCounter;
  private readonly serviceTime: LeanHistogram;
  private readonly connectFailures: TalliedCounter;
  private readonly timeouts: TalliedCounter;
  private readonly resets: TalliedCounter;
  private readonly retries: TalliedCounter;
  private readonly overflow: TalliedCounter;
  private readonly flags: Counter;
  private readonly connectionsActive: LevelGauge;
  private readonly connectionsTotal: TalliedCounter;
  private readonly requestsActive: LevelGauge;
  private readonly tcpConnections: Counter;
  private readonly tcpReceived: Counter;
  private readonly tcpSent: Counter;
  private readonly handshakes: Counter;
  private readonly handshakeFailures: Counter;
  private readonly reloads: Counter;
  private readonly generationGauge: Gauge;
  private readonly lastReloadSuccess: Gauge;
  private readonly lastReloadSuccessful: Gauge;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    const now = options.now ?? (() => new Date());
    const counter = (name: string, help: string, labelNames: string[] = [], collect?: () => void) =>
      new Counter({ name, help, labelNames, registers, collect });
    // Across --workers, gauges are summed unless they say otherwise (metrics-routes.ts).
    const gauge = (
      name: string,
      help: string,
      labelNames: string[] = [],
      aggregator: "sum" | "min" | "max" | "first" = "sum",
      collect?: () => void,
    ) => new Gauge({ name, help, labelNames, registers, aggregator, collect });
    const histogram = (name: string, help: string) =>
      new LeanHistogram(name, help, DURATION_BUCKETS, this.registry);
    const tallied = (name: string, help: string, labelNames: string[]) =>
      new TalliedCounter({ name, help, labelNames, registers });
    const level = (name: string, help: string, labelNames: string[]) =>
      new LevelGauge({ name, help, labelNames, registers, aggregator: "sum" });

    const http = ["listener", "vhost", "route", "code_class"];
    this.requests = tallied("portico_http_requests_total", "HTTP requests answered.", [...http, "method"]);
    this.requestDuration = histogram(
      "portico_http_request_duration_seconds",
      "From the request's arrival to the last byte of its response.",
    );
    this.requestBytes = tallied(
      "portico_http_request_body_bytes_total",
      "Request body bytes received from clients.",
      http,
    );
    this.responseBytes = tallied(
      "portico_http_response_body_bytes_total",
      "Response body bytes sent to clients.",
      http,
    );
    this.serviceTime = histogram(
      "portico_upstream_service_time_seconds",
      "From sending a request upstream to its response headers (the last try).",
    );
    this.connectFailures = tallied(
      "portico_upstream_connect_failures_total",
      "Requests and TCP connections that could not connect upstream (response flag UF).",
      ["service"],
    );
    this.timeouts = tallied(
      "portico_upstream_timeouts_total",
      "Requests whose upstream did not answer in time (response flag UT).",
      ["service"],
    );
    this.resets = tallied(
      "portico_upstream_resets_total",
      "Requests whose upstream connection closed or reset before the response was complete (UC).",
      ["service"],
    );
    this.retries = tallied("portico_upstream_retries_total", "Tries after the first.", ["service"]);
    this.overflow = tallied(
      "portico_upstream_overflow_total",
      "Requests refused by circuit breaking (response flag UO).",
      ["service"],
    );
    this.flags = counter(
      "portico_response_flags_total",
      "Requests and TCP connections by Envoy response flag (NR, UF, UT, UC, DC, URX, UO, ...).",
      ["listener", "flag"],
    );
    this.connectionsActive = level("portico_downstream_connections_active", "Client connections open now.", [
      "listener",
    ]);
    this.connectionsTotal = tallied("portico_downstream_connections_total", "Client connections accepted.", [
      "listener",
    ]);
    this.requestsActive = level(
      "portico_http_requests_active",
      "HTTP requests (HTTP/2 streams included) in flight now.",
      ["listener"],
    );
    const tcp = ["listener", "service"];
    this.tcpConnections = counter(
      "portico_tcp_connections_total",
      "TCP and TLS-passthrough connections, counted when they end.",
      tcp,
    );
    this.tcpReceived = counter("portico_tcp_received_bytes_total", "Bytes received from TCP clients.", tcp);
    this.tcpSent = counter("portico_tcp_sent_bytes_total", "Bytes sent to TCP clients.", tcp);
    this.handshakes = counter(
      "portico_tls_handshakes_total",
      "TLS handshakes completed (and admitted) on HTTPS listeners.",
      ["listener"],
    );
    this.handshakeFailures = counter(
      "portico_tls_handshake_failures_total",
      "TLS handshakes refused or failed, by reason: no_sni, unknown_sni, client_cert_missing, " +
        "client_cert_untrusted, client_cert_rejected, protocol.",
      ["listener", "reason"],
    );
    this.reloads = counter("portico_config_reloads_total", "Configuration reloads, by result.", ["result"]);
    for (const result of ["success", "failure"]) this.reloads.inc({ result }, 0);
    this.generationGauge = gauge(
      "portico_config_generation",
      "The configuration in use: 1 at start, one more for each successful reload.",
      [],
      "min",
    );
    this.generationGauge.set(1);
    // As Prometheus' own prometheus_config_last_reload_success_timestamp_seconds/_successful.
    this.lastReloadSuccess = gauge(
      "portico_config_last_reload_success_timestamp_seconds",
      "When the configuration was last loaded successfully (start or reload), Unix seconds.",
      [],
      "min",
    );
    this.lastReloadSuccess.set(now().getTime() / 1000);
    this.lastReloadSuccessful = gauge(
      "portico_config_last_reload_successful",
      "1 when the last reload attempt succeeded (or none was made), 0 when it failed.",
      [],
      "min",
    );
    this.lastReloadSuccessful.set(1);

    const plan = options.plan;
    if (plan) {
      gauge(
        "portico_certificate_expiry_timestamp_seconds",
        "Each credential's certificate (the leaf) expires at this time, Unix seconds.",
        ["credential"],
        "min",
        function (this: Gauge) {
          this.reset();
          for (const c of plan()?.credentials ?? [])
            this.set({ credential: c.name }, c.leaf.notAfter.getTime() / 1000);
        },
      );
      gauge(
        "portico_certificate_first_expiry_days",
        "Whole days until the first credential's certificate expires (negative once expired); " +
          "the label names that credential.",
        ["credential"],
        "min",
        function (this: Gauge) {
          this.reset();
          const creds = plan()?.credentials ?? [];
          if (creds.length === 0) return;
          const first = creds.reduce((a, b) => (b.leaf.notAfter < a.leaf.notAfter ? b : a));
          this.set({ credential: first.name }, daysLeft(first.leaf.notAfter, now()));
        },
      );
    }
    const acme = options.acme;
    if (acme) {
      // Expiry is portico_certificate_expiry_timestamp_seconds, as for any loaded credential.
      const perCredential = (name: string, help: string, value: (s: AcmeStatus) => number | undefined) =>
        gauge(name, help, ["credential"], "min", function (this: Gauge) {
          this.reset();
          for (const s of acme()) {
            const v = value(s);
            if (v !== undefined) this.set({ credential: s.credential }, v);
          }
        });
      const seconds = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso) / 1000);
      const served = (s: AcmeStatus) => s.notAfter !== undefined && Date.parse(s.notAfter) > Date.now();
      perCredential(
        "portico_acme_pending",
        "1 while an ACME credential has no valid certificate (its names refuse handshakes), else 0.",
        (s) => (served(s) ? 0 : 1),
      );
      perCredential(
        "portico_acme_pending_names",
        "Names of an ACME credential that refuse handshakes: all without a valid certificate, " +
          "else those the CA refused (left out of the certificate until they validate).",
        (s) => (served(s) ? (s.pendingNames?.length ?? 0) : s.names.length),
      );
      perCredential(
        "portico_acme_next_renewal_timestamp_seconds",
        "When an ACME credential's certificate is due for renewal, Unix seconds.",
        (s) => seconds(s.nextRenewal),
      );
      perCredential(
        "portico_acme_last_error_timestamp_seconds",
        "When the last order of an ACME credential failed, Unix seconds; 0 after a success.",
        (s) => seconds(s.lastErrorAt) ?? 0,
      );
    }
    const dropped = options.accessLogDropped;
    if (dropped) {
      counter(
        "portico_access_log_dropped_lines_total",
        "Access-log lines dropped because the log's buffer was full (a slow disk or pipe).",
        [],
        function (this: Counter) {
          this.reset();
          this.inc(dropped());
        },
      );
    }
    if (options.processMetrics !== false) collectProcessMetrics(this.registry);
  }

  /** The configuration generation: 1 at start, one more per successful reload. */
  get generation(): number {
    return this.gen;
  }

  /** A reload (SIGHUP, file watch, POST /reload) was attempted: `ok` when it was applied. */
  reloaded(ok: boolean): void {
    this.reloads.inc({ result: ok ? "success" : "failure" });
    this.lastReloadSuccessful.set(ok ? 1 : 0);
    if (!ok) return;
    this.generationGauge.set(++this.gen);
    this.lastReloadSuccess.set(Date.now() / 1000);
  }

  request(r: RequestRecord): void {
    const vhost = r.vhost ?? "";
    const route = r.route ?? "";
    const cls = codeClass(r.status);
    const method = METHODS.has(r.method) ? r.method : "OTHER";
    const s = this.seriesOf(r.listener, vhost, route, cls, method);
    s.requests.pending++;
    s.duration.observe(r.durationMs / 1000);
    if (r.bytesReceived > 0) s.received.pending += r.bytesReceived;
    if (r.bytesSent > 0) s.sent.pending += r.bytesSent;
    if (r.upstreamServiceTimeMs !== undefined || r.retries > 0 || r.flags.length > 0) {
      const u = this.service(r.upstreamService ?? "");
      if (r.upstreamServiceTimeMs !== undefined) u.serviceTime.observe(r.upstreamServiceTimeMs / 1000);
      if (r.retries > 0) u.retries.pending += r.retries;
      if (r.flags.length > 0) this.countFlags(r.listener, r.flags, u);
    }
  }

  /** The last request's series: under steady traffic the next request nearly always has the same. */
  private last: { labels: readonly string[]; series: RequestSeries } | undefined;

  private seriesOf(
    listener: string,
    vhost: string,
    route: string,
    cls: string,
    method: string,
  ): RequestSeries {
    const l = this.last?.labels;
    if (l && l[0] === listener && l[1] === vhost && l[2] === route && l[3] === cls && l[4] === method)
      return this.last!.series;
    // One Map lookup per label set instead of prom-client hashing four label objects.
    const key = `${listener}\n${vhost}\n${route}\n${cls}\n${method}`;
    let s = this.requestSeries.get(key);
    if (s === undefined) {
      const labels = { listener, vhost, route, code_class: cls };
      // Without the method: one series of these per method would be the same series.
      const k = `${listener}\n${vhost}\n${route}\n${cls}`;
      s = {
        requests: this.requests.series(key, { ...labels, method }),
        duration: this.requestDuration.child(k, labels),
        received: this.requestBytes.series(k, labels),
        sent: this.responseBytes.series(k, labels),
      };
      this.requestSeries.set(key, s);
    }
    this.last = { labels: [listener, vhost, route, cls, method], series: s };
    return s;
  }

  connection(r: ConnectionRecord): void {
    const labels = { listener: r.listener, service: r.upstreamService ?? "" };
    this.tcpConnections.inc(labels);
    if (r.bytesReceived > 0) this.tcpReceived.inc(labels, r.bytesReceived);
    if (r.bytesSent > 0) this.tcpSent.inc(labels, r.bytesSent);
    if (r.flags.length > 0) this.countFlags(r.listener, r.flags, this.service(labels.service));
  }

  handshake(listener: string, outcome: HandshakeOutcome): void {
    if (outcome === "ok") this.handshakes.inc({ listener });
    else this.handshakeFailures.inc({ listener, reason: outcome });
  }

  connectionOpened(listener: string): void {
    const l = this.listener(listener);
    l.connectionsTotal.pending++;
    l.connectionsActive.value++;
  }

  connectionClosed(listener: string): void {
    this.listener(listener).connectionsActive.value--;
  }

  requestStarted(listener: string): void {
    this.listener(listener).requestsActive.value++;
  }

  requestEnded(listener: string): void {
    this.listener(listener).requestsActive.value--;
  }

  private listener(listener: string): ListenerSeries {
    let l = this.listenerSeries.get(listener);
    if (l === undefined) {
      const labels = { listener };
      l = {
        connectionsTotal: this.connectionsTotal.series(listener, labels),
        connectionsActive: this.connectionsActive.series(listener, labels),
        requestsActive: this.requestsActive.series(listener, labels),
      };
      this.listenerSeries.set(listener, l);
    }
    return l;
  }

  private countFlags(listener: string, flags: ResponseFlag[], u: ServiceSeries): void {
    for (const flag of flags) {
      this.flags.inc({ listener, flag });
      if (flag === "UF") u.connectFailures.pending++;
      else if (flag === "UT") u.timeouts.pending++;
      else if (flag === "UC") u.resets.pending++;
      else if (flag === "UO") u.overflow.pending++;
    }
  }

  private service(service: string): ServiceSeries {
    let u = this.serviceSeries.get(service);
    if (u === undefined) {
      const l = { service };
      u = {
        serviceTime: this.serviceTime.child(service, l),
        connectFailures: this.connectFailures.series(service, l),
        timeouts: this.timeouts.series(service, l),
        resets: this.resets.series(service, l),
        retries: this.retries.series(service, l),
        overflow: this.overflow.series(service, l),
      };
      this.serviceSeries.set(service, u);
    }
    return u;
  }
}
