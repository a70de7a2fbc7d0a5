// The files of prom-client that src/observe/prom-client.ts imports one by one (the package
// declares only its index): each is a CommonJS module whose module.exports is the one export.
declare module "prom-client/lib/cluster.js" {
  const AggregatorRegistry: typeof import("prom-client").AggregatorRegistry;
  export default AggregatorRegistry;
}
declare module "prom-client/lib/counter.js" {
  const Counter: typeof import("prom-client").Counter;
  export default Counter;
}
// Each default process metric: registers its gauges or counters (collectProcessMetrics).
declare module "prom-client/lib/metrics/*.js" {
  const metric: (registry: import("prom-client").Registry, config: object) => void;
  export default metric;
}
declare module "prom-client/lib/gauge.js" {
  const Gauge: typeof import("prom-client").Gauge;
  export default Gauge;
}
declare module "prom-client/lib/registry.js" {
  const Registry: typeof import("prom-client").Registry;
  export default Registry;
}
