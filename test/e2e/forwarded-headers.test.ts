// What upstreams receive of a client's x-forwarded-*, x-envoy-* and x-request-id, per listener
// trust (settings.numTrustedProxies, listeners[].numTrustedProxies and preserveExternalRequestId):
// Envoy's edge behaviour with use_remote_address true and xff_num_trusted_hops (src/http/forwarded.ts).
// A real upstream echoes what it got; clients are curl over real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startDemoUpstreams, type DemoUpstreams } from "../../scripts/demo-upstreams.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let upstreams: DemoUpstreams;
let p: PorticoProcess;
let untrusted: number, inherited: number, two: number;

beforeAll(async () => {
  upstreams = await startDemoUpstreams();
  [untrusted, inherited, two] = await freePorts(3);
  const yaml = `settings:
  numTrustedProxies: 1
listeners:
  - { name: untrusted, address: 127.0.0.1, port: ${untrusted}, protocol: HTTP, numTrustedProxies: 0 }
  - { name: inherited, address: 127.0.0.1, port: ${inherited}, protocol: HTTP }
  - name: two
    address: 127.0.0.1
    port: ${two}
    protocol: HTTP
    numTrustedProxies: 2
    preserveExternalRequestId: true
services:
  webapp: http://127.0.0.1:${upstreams.webappPort}
routes:
  - hosts: ["*"]
    http:
      - route: [{ destination: webapp }]
`;
  p = await startPorticoWith(["run", "-c", writeConfig(yaml), "--admin", "off"]);
});
afterAll(async () => {
  await p?.stop();
  await upstreams?.close();
});

const HOSTILE = [
  "x-forwarded-for: 203.0.113.9, 198.51.100.4",
  "x-forwarded-proto: https",
  "x-request-id: client-chosen",
  "x-envoy-external-address: 192.0.2.66",
  "x-envoy-internal: true",
  "x-envoy-retry-on: 5xx",
  "x-envoy-max-retries: 100",
  "x-envoy-upstream-rq-timeout-ms: 1",
  "x-envoy-force-trace: true",
  "x-envoy-decorator-operation: spoofed",
  "x-envoy-original-url: http://evil.example/",
  "x-envoy-custom: kept",
];

async function seen(port: number, headers: string[] = HOSTILE): Promise<Record<string, string>> {
  const r = await curl([`http://127.0.0.1:${port}/echo`, ...headers.flatMap((h) => ["-H", h])]);
  expect(r.status).toBe(200);
  return JSON.parse(r.body).headers;
}

describe("no trusted proxies (a listener's numTrustedProxies: 0 beats settings)", () => {
  test("x-forwarded-for appended, proto overwritten, the client is the peer, request id replaced", async () => {
    const h = await seen(untrusted);
    expect(h["x-forwarded-for"]).toBe("203.0.113.9, 198.51.100.4, 127.0.0.1");
    expect(h["x-forwarded-proto"]).toBe("http");
    expect(h["x-envoy-external-address"]).toBe("127.0.0.1");
    expect(h["x-request-id"]).toMatch(UUID_V4);
  });

  test("Envoy's internal x-envoy-* headers are removed; others pass", async () => {
    const h = await seen(untrusted);
    for (const name of [
      "x-envoy-internal",
      "x-envoy-retry-on",
      "x-envoy-max-retries",
      "x-envoy-upstream-rq-timeout-ms",
      "x-envoy-force-trace",
      "x-envoy-decorator-operation",
      "x-envoy-original-url",
    ])
      expect(h[name]).toBeUndefined();
    expect(h["x-envoy-custom"]).toBe("kept");
  });

  test("without x-forwarded-for: the peer alone", async () => {
    const h = await seen(untrusted, []);
    expect(h["x-forwarded-for"]).toBe("127.0.0.1");
    expect(h["x-envoy-external-address"]).toBe("127.0.0.1");
  });
});

describe("trusted proxies", () => {
  test("settings.numTrustedProxies 1: the rightmost entry is the client, its proto is kept", async () => {
    const h = await seen(inherited);
    expect(h["x-forwarded-for"]).toBe("203.0.113.9, 198.51.100.4, 127.0.0.1");
    expect(h["x-envoy-external-address"]).toBe("198.51.100.4");
    expect(h["x-forwarded-proto"]).toBe("https");
    // Trust in the hops is not trust in the request id (Envoy: every edge request gets a new one).
    expect(h["x-request-id"]).toMatch(UUID_V4);
    expect(h["x-envoy-retry-on"]).toBeUndefined();
  });

  test("2 hops: the second from the right; the client's request id is preserved", async () => {
    const h = await seen(two);
    expect(h["x-envoy-external-address"]).toBe("203.0.113.9");
    expect(h["x-request-id"]).toBe("client-chosen");
    expect(h["x-envoy-internal"]).toBeUndefined();
  });

  test("fewer entries than trusted hops, or garbage: the peer is the client", async () => {
    expect((await seen(two, ["x-forwarded-for: 203.0.113.9"]))["x-envoy-external-address"]).toBe("127.0.0.1");
    const h = await seen(two, ["x-forwarded-for: not-an-ip, 198.51.100.4"]);
    expect(h["x-envoy-external-address"]).toBe("127.0.0.1");
    expect(h["x-forwarded-for"]).toBe("not-an-ip, 198.51.100.4, 127.0.0.1");
  });

  test("a trusted listener without x-forwarded-proto sets the scheme", async () => {
    expect((await seen(inherited, []))["x-forwarded-proto"]).toBe("http");
  });
});
