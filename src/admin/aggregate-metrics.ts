// Several workers' metrics as one Prometheus text: prom-client's own cluster aggregation
// (AggregatorRegistry.aggregate: counters and histograms summed by label set, gauges by each
// metric's `aggregator`), fed with each worker's `GET /metrics?format=json`
// (registry.getMetricsAsJSON()). The metrics helper has the same function; one is kept.
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from "prom-client";

export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

export async function aggregateMetrics(jsons: WorkerMetrics[]): Promise<string> {
  return AggregatorRegistry.aggregate(jsons).metrics();
}
