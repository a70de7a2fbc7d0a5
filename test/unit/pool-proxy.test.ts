// The proxy's side of pools, in process (provision → createListenerHandler → a Bun.serve
// upstream): the retry budget (connectionPool.http.maxRetries), "no healthy upstream" for a
// subset that selects no endpoint, and the overflow answer of Envoy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { createListenerHandler } from "../../src/http/app.ts";
import type { Plan } from "../../src/provision/plan.ts";
import { provision } from "../../src/provision/provision.ts";
import { createUpstreamClient } from "../../src/upstream/client.ts";
import { UpstreamClients } from "../../src/upstream/clients.ts";
import { UpstreamPools } from "../../src/upstream/pools.ts";
import { yaml } from "../helpers/yaml.ts";

const CONN = { remoteAddress: "127.0.0.1", remotePort: 1, localPort: 8080 } as never;
let up: ReturnType<typeof Bun.serve>;
let hits = 0;
let plan: Plan;
const pools = new UpstreamPools({ timers: false });

beforeAll(async () => {
  // Always a 503, after 150 ms: tries of concurrent requests overlap.
  up = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async () => {
      hits++;
      await Bun.sleep(150);
      return new Response("down", { status: 503 });
    },
  });
  const text = yaml`
    listeners: [{ port: 8080, protocol: HTTP }]
    services:
      budget:
        endpoints: [{ address: 127.0.0.1, port: ${up.port}, labels: { v: "1" } }]
        connectionPool: { http: { maxRetries: 1 } }
        subsets: [{ name: none, labels: { v: "2" } }]
    routes:
      - hosts: [budget.test]
        http: [{ route: [{ destination: budget }], retries: { attempts: 3, retryOn: 5xx } }]
      - hosts: [none.test]
        http: [{ route: [{ destination: { host: budget, subset: none } }] }]
  `;
  plan = (await provision(parseConfig(text, "/tmp/routes.yaml"))).plan;
});
afterAll(() => {
  up.stop(true);
  pools.close();
});

const handler = () =>
  createListenerHandler(
    { current: plan.listeners[0]!, serverHeader: "" },
    new UpstreamClients((tls) => createUpstreamClient(tls)),
    pools,
  );
const get = (host: string) => Promise.resolve(handler()(new Request(`http://${host}/`), CONN));

describe("pooled requests in the proxy", () => {
  test("maxRetries 1: of two concurrent requests, one retries and the other keeps its 503", async () => {
    hits = 0;
    const [a, b] = await Promise.all([get("budget.test"), get("budget.test")]);
    expect([a.status, b.status]).toEqual([503, 503]);
    // 1 + 3 tries for the one that holds the retry slot, 1 for the other (8 without the budget).
    expect(hits).toBe(5);
  });

  test("a subset that selects no endpoint: 503 no healthy upstream", async () => {
    const res = await get("none.test");
    expect(res.status).toBe(503);
    expect(await res.text()).toBe("no healthy upstream");
  });
});
