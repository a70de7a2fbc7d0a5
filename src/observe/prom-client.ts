// prom-client's classes, each from its own file. The package's index also loads its Pushgateway
// (node:zlib, node:url, node:http, node:https), Histogram and Summary, which Portico never uses:
// node:zlib and node:url alone are about 3 MiB of the compiled binary's idle RSS on Bun 1.4.5
// (docs/runtimes.md, "Start-up and idle memory"). The types are the package's own.
import type * as Prom from "prom-client";
import AggregatorRegistryClass from "prom-client/lib/cluster.js";
import CounterClass from "prom-client/lib/counter.js";
import collectDefaultMetricsFunction from "prom-client/lib/defaultMetrics.js";
import GaugeClass from "prom-client/lib/gauge.js";
import RegistryClass from "prom-client/lib/registry.js";

export const AggregatorRegistry: typeof Prom.AggregatorRegistry = AggregatorRegistryClass;
export type AggregatorRegistry<T extends Prom.RegistryContentType> = Prom.AggregatorRegistry<T>;
export const Counter: typeof Prom.Counter = CounterClass;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge: typeof Prom.Gauge = GaugeClass;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Registry: typeof Prom.Registry = RegistryClass;
export type Registry<T extends Prom.RegistryContentType = Prom.PrometheusContentType> = Prom.Registry<T>;
export const collectDefaultMetrics: typeof Prom.collectDefaultMetrics = collectDefaultMetricsFunction;
export type { LabelValues, MetricObjectWithValues, MetricValue, MetricValueWithName } from "prom-client";
