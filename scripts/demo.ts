// `npm start`: the stand-in webapp and catalog services plus Portico on the bundled routes.yaml,
// in one process, so the README's curl commands answer at once.
import "reflect-metadata";
import "./key-modes.ts";
import { main } from "../src/cli/main.ts";
import { startDemoUpstreams } from "./demo-upstreams.ts";

const upstreams = await startDemoUpstreams({ webappPort: 9080, catalogPort: 9081 });
console.error(
  `demo upstreams: webapp 127.0.0.1:${upstreams.webappPort}, catalog 127.0.0.1:${upstreams.catalogPort}`,
);
const code = await main(["run", "-c", process.env.PORTICO_CONFIG ?? "routes.yaml"]);
await upstreams.close();
process.exit(code);
