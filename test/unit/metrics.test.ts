// The metrics sink fed known records: counters, histogram buckets, the label rules (bounded:
// no path, no Host, no client address; unnamed route "", unknown method OTHER, no status
// "none"), reload bookkeeping, the scrape-time gauges, and the aggregation of several workers'
// JSON into one exposition.
import { describe, expect, test } from "bun:test";
import { aggregateMetrics } from "../../src/admin/metrics-routes.ts";
import { codeClass, Metrics } from "../../src/observe/metrics.ts";
import type { ConnectionRecord, RequestRecord } from "../../src/observe/records.ts";
import type { CredentialPlan, Plan } from "../../src/provision/plan.ts";
import { parseExposition, sampleValue } from "../helpers/prom-text.ts";

function request(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    startTime: Date.now(),
    listener: "https",
    sni: "shop.example.com",
    protocol: "HTTP/2",
    method: "GET",
    authority: "shop.example.com:8443",
    path: "/items/42?secret=1",
    status: 200,
    flags: [],
    bytesReceived: 0,
    bytesSent: 100,
    durationMs: 3,
    upstreamHost: "10.0.0.1:8080",
    upstreamService: "shop",
    upstreamServiceTimeMs: 2,
    retries: 0,
    requestId: "r1",
    route: "items",
    vhost: "*.example.com",
    peerSubject: undefined,
    peerUriSan: undefined,
    remoteAddress: "192.0.2.7",
    directRemoteAddress: "192.0.2.7",
    ...over,
  };
}

function connection(over: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return {
    startTime: Date.now(),
    listener: "db",
    kind: "tcp",
    sni: undefined,
    upstreamHost: "10.0.0.2:5432",
    upstreamService: "postgres",
    flags: [],
    bytesReceived: 10,
    bytesSent: 20,
    durationMs: 100,
    remoteAddress: "192.0.2.7",
    ...over,
  };
}

const scrape = async (m: Metrics) => parseExposition(await m.registry.metrics());

describe("Metrics", () => {
  test("requests by listener, vhost, route, code class and method; durations and bytes", async () => {
    const m = new Metrics({ processMetrics: false });
    m.request(request());
    m.request(request({ durationMs: 40, bytesReceived: 7, bytesSent: 5 }));
    m.request(request({ status: 503, route: undefined, method: "BREW", durationMs: 0.2 }));
    const e = await scrape(m);
    const ok = { listener: "https", vhost: "*.example.com", route: "items", code_class: "2xx" };
    expect(sampleValue(e, "portico_http_requests_total", { ...ok, method: "GET" })).toBe(2);
    expect(
      sampleValue(e, "portico_http_requests_total", { route: "", code_class: "5xx", method: "OTHER" }),
    ).toBe(1);
    // 3 ms and 40 ms: none under 2.5 ms, one under 5 ms, both under 50 ms.
    const bucket = (le: string) =>
      sampleValue(e, "portico_http_request_duration_seconds_bucket", { ...ok, le });
    expect(bucket("0.0025")).toBe(0);
    expect(bucket("0.005")).toBe(1);
    expect(bucket("0.025")).toBe(1);
    expect(bucket("0.05")).toBe(2);
    expect(bucket("+Inf")).toBe(2);
    expect(sampleValue(e, "portico_http_request_duration_seconds_sum", ok)).toBeCloseTo(0.043, 9);
    expect(sampleValue(e, "portico_http_request_body_bytes_total", ok)).toBe(7);
    expect(sampleValue(e, "portico_http_response_body_bytes_total", ok)).toBe(105);
    expect(sampleValue(e, "portico_upstream_service_time_seconds_count", { service: "shop" })).toBe(3);
  });

  test("counts kept between scrapes: each scrape, text or JSON, shows every count once", async () => {
    const m = new Metrics({ processMetrics: false });
    const ok = { listener: "https", vhost: "*.example.com", route: "items", code_class: "2xx" };
    const total = (e: Awaited<ReturnType<typeof scrape>>) =>
      sampleValue(e, "portico_http_requests_total", { ...ok, method: "GET" });
    m.request(request());
    m.requestStarted("https");
    expect(total(await scrape(m))).toBe(1);
    m.request(request());
    m.request(request());
    await m.registry.getMetricsAsJSON();
    const e = await scrape(m);
    expect(total(e)).toBe(3);
    expect(sampleValue(e, "portico_http_request_duration_seconds_count", ok)).toBe(3);
    expect(sampleValue(e, "portico_http_requests_active", { listener: "https" })).toBe(1);
    m.requestEnded("https");
    expect(sampleValue(await scrape(m), "portico_http_requests_active", { listener: "https" })).toBe(0);
  });

  test("labels never carry the path, the Host header or the client's address", async () => {
    const m = new Metrics({ processMetrics: false });
    m.request(request());
    m.connection(connection());
    const text = await m.registry.metrics();
    for (const leak of ["/items", "secret", "shop.example.com:8443", "192.0.2.7", "10.0.0.1"])
      expect(text).not.toContain(leak);
  });

  test("upstream failures by service, and every response flag by listener", async () => {
    const m = new Metrics({ processMetrics: false });
    m.request(request({ status: 503, flags: ["UF", "URX"], retries: 2, upstreamServiceTimeMs: undefined }));
    m.request(request({ status: 504, flags: ["UT"] }));
    m.request(request({ status: 503, flags: ["UC"] }));
    m.request(request({ status: 503, flags: ["UO"], upstreamService: undefined }));
    m.request(request({ status: 404, flags: ["NR"], upstreamService: undefined, vhost: undefined }));
    m.connection(connection({ flags: ["UF"] }));
    const e = await scrape(m);
    const shop = { service: "shop" };
    expect(sampleValue(e, "portico_upstream_connect_failures_total", shop)).toBe(1);
    expect(sampleValue(e, "portico_upstream_connect_failures_total", { service: "postgres" })).toBe(1);
    expect(sampleValue(e, "portico_upstream_retries_total", shop)).toBe(2);
    expect(sampleValue(e, "portico_upstream_timeouts_total", shop)).toBe(1);
    expect(sampleValue(e, "portico_upstream_resets_total", shop)).toBe(1);
    expect(sampleValue(e, "portico_upstream_overflow_total", { service: "" })).toBe(1);
    const flag = (listener: string, f: string) =>
      sampleValue(e, "portico_response_flags_total", { listener, flag: f });
    expect([flag("https", "UF"), flag("https", "URX"), flag("https", "NR"), flag("db", "UF")]).toEqual([
      1, 1, 1, 1,
    ]);
    expect(sampleValue(e, "portico_http_requests_total", { vhost: "", code_class: "4xx" })).toBe(1);
  });

  test("TCP connections and bytes; connection and request gauges; handshakes by reason", async () => {
    const m = new Metrics({ processMetrics: false });
    m.connection(connection());
    m.connection(connection({ bytesReceived: 1, bytesSent: 2 }));
    m.connectionOpened("https");
    m.connectionOpened("https");
    m.connectionClosed("https");
    m.requestStarted("https");
    m.handshake("https", "ok");
    m.handshake("https", "unknown_sni");
    m.handshake("https", "unknown_sni");
    const e = await scrape(m);
    const db = { listener: "db", service: "postgres" };
    expect(sampleValue(e, "portico_tcp_connections_total", db)).toBe(2);
    expect(sampleValue(e, "portico_tcp_received_bytes_total", db)).toBe(11);
    expect(sampleValue(e, "portico_tcp_sent_bytes_total", db)).toBe(22);
    expect(sampleValue(e, "portico_downstream_connections_active", { listener: "https" })).toBe(1);
    expect(sampleValue(e, "portico_downstream_connections_total", { listener: "https" })).toBe(2);
    expect(sampleValue(e, "portico_http_requests_active", { listener: "https" })).toBe(1);
    expect(sampleValue(e, "portico_tls_handshakes_total", { listener: "https" })).toBe(1);
    expect(
      sampleValue(e, "portico_tls_handshake_failures_total", { listener: "https", reason: "unknown_sni" }),
    ).toBe(2);
  });

  test("reloads: counters by result, generation and the last success", async () => {
    const m = new Metrics({ processMetrics: false });
    expect(m.generation).toBe(1);
    m.reloaded(true);
    m.reloaded(false);
    expect(m.generation).toBe(2);
    const e = await scrape(m);
    expect(sampleValue(e, "portico_config_reloads_total", { result: "success" })).toBe(1);
    expect(sampleValue(e, "portico_config_reloads_total", { result: "failure" })).toBe(1);
    expect(sampleValue(e, "portico_config_generation")).toBe(2);
    expect(sampleValue(e, "portico_config_last_reload_successful")).toBe(0);
  });

  test("certificate expiry and access-log drops are read at scrape time", async () => {
    const cred = (name: string, notAfter: string) =>
      ({ name, leaf: { notAfter: new Date(notAfter) } }) as CredentialPlan;
    let plan = {
      credentials: [cred("a", "2030-01-11T00:00:00Z"), cred("b", "2030-01-02T12:00:00Z")],
    } as Plan;
    let dropped = 3;
    const m = new Metrics({
      processMetrics: false,
      plan: () => plan,
      accessLogDropped: () => dropped,
      now: () => new Date("2030-01-01T00:00:00Z"),
    });
    let e = await scrape(m);
    const expiry = (credential: string) =>
      sampleValue(e, "portico_certificate_expiry_timestamp_seconds", { credential });
    expect(expiry("a")).toBe(Date.parse("2030-01-11T00:00:00Z") / 1000);
    expect(e.samples.filter((s) => s.name === "portico_certificate_first_expiry_days")).toEqual([
      { name: "portico_certificate_first_expiry_days", labels: { credential: "b" }, value: 1 },
    ]);
    expect(sampleValue(e, "portico_access_log_dropped_lines_total")).toBe(3);
    // A reload that removes a credential removes its series.
    plan = { credentials: [cred("a", "2030-01-11T00:00:00Z")] } as Plan;
    dropped = 5;
    e = await scrape(m);
    expect(expiry("b")).toBeUndefined();
    expect(sampleValue(e, "portico_certificate_first_expiry_days", { credential: "a" })).toBe(10);
    expect(sampleValue(e, "portico_access_log_dropped_lines_total")).toBe(5);
  });

  test("label values are escaped as the text format requires", async () => {
    const m = new Metrics({ processMetrics: false });
    const route = 'say "hi"\\ then\nleave';
    m.request(request({ route }));
    const text = await m.registry.metrics();
    expect(text).toContain('route="say \\"hi\\"\\\\ then\\nleave"');
    expect(sampleValue(parseExposition(text), "portico_http_requests_total", { route })).toBe(1);
  });

  test("code classes", () => {
    expect([101, 200, 302, 404, 504, 0, 600].map(codeClass)).toEqual([
      "1xx",
      "2xx",
      "3xx",
      "4xx",
      "5xx",
      "none",
      "none",
    ]);
  });

  test("process metrics are collected into the same registry", async () => {
    const e = await scrape(new Metrics());
    expect(sampleValue(e, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });
});

describe("aggregateMetrics", () => {
  test("two workers: counters and histograms summed, gauges by their aggregator", async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    a.request(request({ durationMs: 3 }));
    b.request(request({ durationMs: 3 }));
    b.request(request({ durationMs: 40 }));
    a.connectionOpened("https");
    b.connectionOpened("https");
    b.connectionOpened("https");
    b.reloaded(true);
    const text = await aggregateMetrics([
      await a.registry.getMetricsAsJSON(),
      await b.registry.getMetricsAsJSON(),
    ]);
    const e = parseExposition(text);
    const ok = { listener: "https", route: "items", code_class: "2xx" };
    expect(sampleValue(e, "portico_http_requests_total", ok)).toBe(3);
    expect(sampleValue(e, "portico_http_request_duration_seconds_bucket", { ...ok, le: "0.005" })).toBe(2);
    expect(sampleValue(e, "portico_http_request_duration_seconds_bucket", { ...ok, le: "0.05" })).toBe(3);
    expect(sampleValue(e, "portico_http_request_duration_seconds_count", ok)).toBe(3);
    expect(sampleValue(e, "portico_downstream_connections_active", { listener: "https" })).toBe(3);
    // The generation every worker has reached.
    expect(sampleValue(e, "portico_config_generation")).toBe(1);
    expect(sampleValue(e, "portico_config_reloads_total", { result: "success" })).toBe(1);
    expect(e.types.get("portico_http_request_duration_seconds")).toBe("histogram");
  });
});

describe("process metrics", () => {
  // prom-client's default set, but on Bun without nodejs_heap_space_size_*: there each scrape's
  // v8.getHeapSpaceStatistics() walks the whole heap (150-390 ms at 200-600 MiB), holding every
  // request; prom-client itself skips that metric only where the call throws.
  test("the process and heap-size metrics, and no heap-space metrics on Bun", async () => {
    const m = new Metrics();
    const e = await scrape(m);
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ])
      expect(e.types.has(name)).toBe(true);
    expect(e.types.has("nodejs_heap_space_size_used_bytes")).toBe(false);
  });
});
