// A Prometheus histogram whose series are plain objects the request path keeps: observe() is a
// bucket search and three additions. prom-client's Histogram validates and hashes the label
// object and copies it on every observe(), even through a child from labels() (see tally.ts for
// what that cost). This one registers itself on a prom-client Registry (registerMetric takes any
// metric with a name and get()) and answers get() with exactly what prom-client's Histogram
// answers: per series cumulative `_bucket` samples labelled `le` (the bounds, then "+Inf"),
// `_sum` and `_count`, aggregator "sum", so text exposition and the --workers JSON merge are
// unchanged.
import type { LabelValues, MetricObjectWithValues, MetricValueWithName, Registry } from "./prom-client.ts";

export class HistogramSeries {
  /** Observations per bucket (not cumulative); an observation above the last bound is in none. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: LabelValues<string>,
  ) {
    this.counts = bounds.map(() => 0);
  }

  /** As prom-client: the first bucket whose bound is >= v ("le"). */
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class LeanHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  /** The series of `labels`, created on first use; `key` must identify the label values. */
  child(key: string, labels: LabelValues<string>): HistogramSeries {
    let s = this.series.get(key);
    if (s === undefined) {
      s = new HistogramSeries(this.bounds, labels);
      this.series.set(key, s);
    }
    return s;
  }

  /** Registry.resetMetrics() calls this on every metric. */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const bucket = `${this.name}_bucket`;
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.bounds[i]!, ...s.labels }, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: "+Inf", ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }
}
