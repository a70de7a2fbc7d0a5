// GET /metrics: the Prometheus text exposition (format 0.0.4) of the Metrics registry, and
// GET /metrics?format=json: the same as prom-client's JSON, which the --workers supervisor
// fetches from each worker and merges with aggregateMetrics.
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "../observe/prom-client.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { AdminApp } from "./app.ts";

/** The Content-Type of the text exposition, "text/plain; version=0.0.4; charset=utf-8". */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** One worker's `GET /metrics?format=json`. */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

export function mountMetrics(app: AdminApp, metrics: Metrics): void {
  app.get("/metrics", async (c) => {
    if (c.req.query("format") === "json") return c.json(await metrics.registry.getMetricsAsJSON());
    return c.body(await metrics.registry.metrics(), 200, { "content-type": METRICS_CONTENT_TYPE });
  });
}

/**
 * Several registries' getMetricsAsJSON() (one per worker) as one Prometheus text. Counters and
 * histograms are summed; each gauge by the aggregator it was declared with (metrics.ts): active
 * connections and requests summed, the config generation, reload timestamps and certificate
 * expiry the minimum (what every worker has reached); process_* and nodejs_* as prom-client
 * declares them (CPU, memory, fds summed; event-loop lag averaged; process_start_time_seconds
 * left out).
 */
export async function aggregateMetrics(jsons: WorkerMetrics[]): Promise<string> {
  return AggregatorRegistry.aggregate(jsons).metrics();
}
