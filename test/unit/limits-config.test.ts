// Listener limits (src/config/limits.ts): the `limits:` blocks of routes.yaml settings and
// listeners, the route's maxRequestBodyBytes, how they resolve (listener over settings over the
// defaults, field by field; 0 turns a limit off), what provisioning hands the adapters, and the
// messages for bad values, which name file, line and field.
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { loadSources } from "../../src/cli/config-files.ts";
import { DEFAULT_LIMITS, resolveLimits, resolveStreamLimits } from "../../src/config/limits.ts";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { provision } from "../../src/provision/provision.ts";
import { routesYamlErrors as errors } from "../helpers/config-errors.ts";
import { writeConfig } from "../helpers/portico.ts";

const yaml = (settings: string, listener = "", route = "") => `
${settings ? `settings:\n  limits: ${settings}\n` : ""}listeners:
  - { name: web, port: 8080, protocol: HTTP${listener ? `, limits: ${listener}` : ""} }
  - { name: other, port: 8081, protocol: HTTP }
  - { name: bytes, port: 9000, protocol: TCP }
services:
  echo: http://127.0.0.1:9
  db: tcp://127.0.0.1:5432
routes:
  - hosts: ["*"]
    tcp:
      - route: [{ destination: db }]
    http:
      - match: [{ uri: { prefix: /upload } }]
        route: [{ destination: echo }]${route ? `\n        maxRequestBodyBytes: ${route}` : ""}
      - route: [{ destination: echo }]
`;

describe("resolving limits", () => {
  test("nothing written: Envoy's edge defaults", () => {
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS).toEqual({
      maxRequestHeadersKb: 60,
      maxRequestHeaders: 100,
      maxRequestBodyBytes: undefined,
      requestHeadersTimeoutMs: 10_000,
      idleTimeoutMs: 300_000,
      maxConnections: undefined,
      maxConcurrentStreams: 100,
      maxRequestsPerConnection: undefined,
    });
  });

  test("a listener's field beats settings', field by field; 0 turns a limit off", () => {
    const l = resolveLimits(
      { maxRequestHeaders: 20, idleTimeoutMs: 0 },
      { maxRequestHeaders: 50, maxRequestBodyBytes: 1024, idleTimeoutMs: 5_000, maxConnections: 0 },
    );
    expect(l.maxRequestHeaders).toBe(20);
    expect(l.maxRequestBodyBytes).toBe(1024);
    expect(l.idleTimeoutMs).toBeUndefined();
    expect(l.maxConnections).toBeUndefined();
    expect(l.maxConcurrentStreams).toBe(100);
  });

  test("a TCP listener's idle timeout is its own (default 1 h), its connection cap may be settings'", () => {
    expect(resolveStreamLimits(undefined, { idleTimeoutMs: 5_000, maxConnections: 9 })).toEqual({
      idleTimeoutMs: 3_600_000,
      maxConnections: 9,
    });
    expect(resolveStreamLimits({ idleTimeoutMs: 0 })).toEqual({
      idleTimeoutMs: undefined,
      maxConnections: undefined,
    });
  });
});

describe("routes.yaml limits", () => {
  test("settings, a listener and a route, through parsing and provisioning", async () => {
    const config = parseConfig(
      yaml(
        "{ maxRequestBodyBytes: 1024, requestHeadersTimeout: 1s, idleTimeout: 2m, maxConnections: 50 }",
        "{ maxRequestBodyBytes: 2048, maxConcurrentStreams: 10 }",
        "8192",
      ),
      "routes.yaml",
    );
    expect(config.settings.limits).toEqual({
      maxRequestBodyBytes: 1024,
      requestHeadersTimeoutMs: 1_000,
      idleTimeoutMs: 120_000,
      maxConnections: 50,
    });
    const { plan } = await provision(config);
    const [web, other] = plan.listeners;
    expect(web!.limits).toMatchObject({
      maxRequestBodyBytes: 2048,
      maxConcurrentStreams: 10,
      requestHeadersTimeoutMs: 1_000,
      idleTimeoutMs: 120_000,
      maxConnections: 50,
      maxRequestHeaders: 100,
    });
    expect(other!.limits.maxRequestBodyBytes).toBe(1024);
    // Bun.serve is told the largest body any route admits.
    expect(web!.bodyCeiling).toBe(8192);
    expect(web!.vhosts.match("x")!.routes[0]!.maxRequestBodyBytes).toBe(8192);
    expect(web!.vhosts.match("x")!.routes[1]!.maxRequestBodyBytes).toBeUndefined();
    expect(plan.streamListeners[0]!.limits).toEqual({ idleTimeoutMs: 3_600_000, maxConnections: 50 });
  });

  test("a route without a body limit makes the ceiling unlimited", async () => {
    const { plan } = await provision(
      parseConfig(yaml("{ maxRequestBodyBytes: 1024 }", "", "0"), "routes.yaml"),
    );
    expect(plan.listeners[0]!.bodyCeiling).toBeUndefined();
    const none = await provision(parseConfig(yaml(""), "routes.yaml"));
    expect(none.plan.listeners[0]!.limits).toEqual(DEFAULT_LIMITS);
  });

  test("bad values name the file, line and field, and say what to write", () => {
    const got = errors(
      yaml(
        "{ maxRequestHeadersKb: 0, requestHeadersTimeout: 10, maxConcurrentStreams: -1, maxConections: 5 }",
        "{ idleTimeout: forever, maxRequestBodyBytes: 1.5 }",
        "-3",
      ),
    ).join("\n");
    expect(got).toMatch(
      /routes\.yaml:\d+: settings\.limits\.maxRequestHeadersKb: expected an integer 1\.\.8192/,
    );
    expect(got).toMatch(/settings\.limits\.requestHeadersTimeout: expected a duration like 15s or 250ms/);
    expect(got).toMatch(/settings\.limits\.maxConcurrentStreams: expected an integer 1\.\.2147483647/);
    expect(got).toMatch(
      /settings\.limits\.maxConections: unknown field "maxConections"; did you mean "maxConnections"/,
    );
    expect(got).toMatch(/listeners\[0\]\.limits\.idleTimeout: expected a duration/);
    expect(got).toMatch(/listeners\[0\]\.limits\.maxRequestBodyBytes: expected an integer number of bytes/);
    expect(got).toMatch(/routes\[0\]\.http\[0\]\.maxRequestBodyBytes: expected an integer number of bytes/);
  });

  test("a TCP listener takes maxConnections and idleTimeout only", () => {
    const text = yaml("").replace(
      "{ name: bytes, port: 9000, protocol: TCP }",
      "{ name: bytes, port: 9000, protocol: TCP, limits: { maxConnections: 5, idleTimeout: 10m, maxRequestHeaders: 9 } }",
    );
    const got = errors(text).join("\n");
    expect(got).toContain(
      "listeners[2].limits.maxRequestHeaders: only allowed on HTTP and HTTPS listeners; a TCP listener takes maxConnections and idleTimeout",
    );
    expect(got).not.toContain("limits.maxConnections");
  });

  test("a VirtualService that names maxRequestBodyBytes is refused: Istio has no such field", async () => {
    const path = writeConfig(
      `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: gw }
spec:
  servers:
    - port: { number: 8080, name: http, protocol: HTTP }
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: vs }
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
    - maxRequestBodyBytes: 10
      route: [{ destination: { host: echo } }]
`,
      "istio.yaml",
    );
    const message = await loadSources([path], { warn: () => {} }).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(message).toContain(
      "spec.http[0].maxRequestBodyBytes: is a routes.yaml field, not an Istio HTTPRoute field; Istio listeners take the body limit of routes.yaml settings.limits",
    );
  });
});
