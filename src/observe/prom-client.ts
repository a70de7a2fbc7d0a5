// prom-client's classes, each from its own file. The package's index also loads its Pushgateway
// (node:zlib, node:url, node:http, node:https), Histogram and Summary, which Portico never uses:
// node:zlib and node:url alone are about 3 MiB of the compiled binary's idle RSS on Bun 1.4.5
// (docs/runtimes.md, "Start-up and idle memory"). The types are the package's own.
import type * as Prom from "prom-client";
import AggregatorRegistryClass from "prom-client/lib/cluster.js";
import CounterClass from "prom-client/lib/counter.js";
import eventLoopLag from "prom-client/lib/metrics/eventLoopLag.js";
import gc from "prom-client/lib/metrics/gc.js";
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed.js";
import heapSpacesSizeAndUsed from "prom-client/lib/metrics/heapSpacesSizeAndUsed.js";
import osMemoryHeap from "prom-client/lib/metrics/osMemoryHeap.js";
import processCpuTotal from "prom-client/lib/metrics/processCpuTotal.js";
import processHandles from "prom-client/lib/metrics/processHandles.js";
import processMaxFileDescriptors from "prom-client/lib/metrics/processMaxFileDescriptors.js";
import processOpenFileDescriptors from "prom-client/lib/metrics/processOpenFileDescriptors.js";
import processRequests from "prom-client/lib/metrics/processRequests.js";
import processResources from "prom-client/lib/metrics/processResources.js";
import processStartTime from "prom-client/lib/metrics/processStartTime.js";
import version from "prom-client/lib/metrics/version.js";
import { currentRuntime } from "../util/runtime.ts";
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

/**
 * prom-client's default process metrics (its collectDefaultMetrics, same names and config), but
 * for nodejs_heap_space_size_* on Bun: there `v8.getHeapSpaceStatistics()`, which that metric
 * calls on every scrape, walks the whole heap, holding the event loop 150-390 ms with a heap of
 * 200-600 MiB (10,000 hosts; docs/runtimes.md). nodejs_heap_size_* (process.memoryUsage) stays.
 */
export function collectProcessMetrics(register: Prom.Registry): void {
  const config = { eventLoopMonitoringPrecision: 10, register };
  const metrics = [
    processCpuTotal,
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    eventLoopLag,
    ...(typeof process.getActiveResourcesInfo === "function" ? [processResources] : []),
    processHandles,
    processRequests,
    heapSizeAndUsed,
    ...(currentRuntime() === "bun" ? [] : [heapSpacesSizeAndUsed]),
    version,
    gc,
  ];
  for (const metric of metrics) metric(register, config);
}
export type { LabelValues, MetricObjectWithValues, MetricValue, MetricValueWithName } from "prom-client";
