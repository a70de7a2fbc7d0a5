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
declare module "prom-client/lib/defaultMetrics.js" {
  const collectDefaultMetrics: typeof import("prom-client").collectDefaultMetrics;
  export default collectDefaultMetrics;
}
declare module "prom-client/lib/gauge.js" {
  const Gauge: typeof import("prom-client").Gauge;
  export default Gauge;
}
declare module "prom-client/lib/registry.js" {
  const Registry: typeof import("prom-client").Registry;
  export default Registry;
}
