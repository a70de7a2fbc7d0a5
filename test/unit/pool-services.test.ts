// routes.yaml services beyond one URL (issue 10): endpoints with a resolution, Istio's traffic
// policy sections on the service, Portico's healthCheck, subsets; a route's destination.subset;
// and provisioning refusing what it does not compile yet.
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import type { TrafficPolicyConfig } from "../../src/config/model.ts";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { provision } from "../../src/provision/provision.ts";
import { routesYamlErrors as errors } from "../helpers/config-errors.ts";
import { yaml } from "../helpers/yaml.ts";

const LISTENER = "listeners: [{ port: 8080, protocol: HTTP }]";

describe("routes.yaml services with endpoints", () => {
  test("endpoints, resolution, policy, health check and subsets map onto the model", () => {
    const text = yaml`
      ${LISTENER}
      credentials:
        client: { cert: c.crt, key: c.key }
      services:
        web:
          endpoints:
            - { address: 10.0.0.1, port: 8080, weight: 2, labels: { version: v1 } }
            - { address: 10.0.0.2, labels: { version: v2 } }
          loadBalancer: { simple: ROUND_ROBIN }
          connectionPool: { http: { http1MaxPendingRequests: 1 } }
          outlierDetection: { consecutiveGatewayErrors: 3, minHealthPercent: 50 }
          healthCheck: { http: { path: /healthz, host: web.internal }, interval: 2s, unhealthyThreshold: 2 }
          subsets:
            - name: v1
              labels: { version: v1 }
              trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true } } }
            - name: v2
              labels: { version: v2 }
        secure:
          endpoints: [{ address: localhost }]
          tls: { credential: client, serverName: secure.internal, subjectAltNames: [secure.internal] }
          healthCheck: { tcp: {} }
      routes:
        - hosts: ["*"]
          http:
            - route:
                - { destination: { host: web, subset: v1 }, weight: 90 }
                - { destination: { host: web, subset: v2 }, weight: 10 }
              retries: { attempts: 2 }
    `;
    const config = parseConfig(text, "conf/routes.yaml");
    const file = "conf/routes.yaml";
    const policy: TrafficPolicyConfig = {
      loadBalancer: { simple: "ROUND_ROBIN" },
      connectionPool: { http: { http1MaxPendingRequests: 1 } },
      outlierDetection: {
        consecutive5xxErrors: 5,
        consecutiveGatewayErrors: 3,
        splitExternalLocalOriginErrors: false,
        intervalMs: 10_000,
        baseEjectionTimeMs: 30_000,
        maxEjectionPercent: 10,
        minHealthPercent: 50,
      },
      healthCheck: {
        check: { kind: "http", path: "/healthz", host: "web.internal" },
        intervalMs: 2_000,
        timeoutMs: 1_000,
        healthyThreshold: 1,
        unhealthyThreshold: 2,
      },
    };
    expect(config.services.get("web")).toEqual({
      name: "web",
      url: "http://web",
      host: "web",
      port: 8080,
      source: { file, line: 5, path: "services.web" },
      endpoints: [
        {
          address: "10.0.0.1",
          port: 8080,
          weight: 2,
          labels: { version: "v1" },
          source: { file, line: 7, path: "services.web.endpoints[0]" },
        },
        {
          address: "10.0.0.2",
          port: 80,
          weight: 1,
          labels: { version: "v2" },
          source: { file, line: 8, path: "services.web.endpoints[1]" },
        },
      ],
      // Every address is an IP: STATIC unless written.
      resolution: "STATIC",
      trafficPolicy: policy,
      subsets: [
        {
          name: "v1",
          labels: { version: "v1" },
          trafficPolicy: { ...policy, loadBalancer: { consistentHash: { key: { kind: "sourceIp" } } } },
          source: { file, line: 14, path: "services.web.subsets[0]" },
        },
        {
          name: "v2",
          labels: { version: "v2" },
          trafficPolicy: policy,
          source: { file, line: 17, path: "services.web.subsets[1]" },
        },
      ],
    });
    expect(config.services.get("secure")).toEqual({
      name: "secure",
      // tls makes every endpoint https, on 443 unless an endpoint names its port.
      url: "https://secure",
      host: "secure",
      port: 443,
      source: { file, line: 19, path: "services.secure" },
      tls: { credential: "client", serverName: "secure.internal", subjectAltNames: ["secure.internal"] },
      endpoints: [
        {
          address: "localhost",
          port: 443,
          weight: 1,
          labels: {},
          source: { file, line: 20, path: "services.secure.endpoints[0]" },
        },
      ],
      // A name among the addresses: DNS unless written.
      resolution: "DNS",
      trafficPolicy: {
        healthCheck: {
          check: { kind: "tcp" },
          intervalMs: 10_000,
          timeoutMs: 1_000,
          healthyThreshold: 1,
          unhealthyThreshold: 3,
        },
      },
    });
    const route = config.routes[0]!.http[0]!;
    expect(route.destinations.map((d) => [d.service, d.subset?.name, d.weight])).toEqual([
      ["web", "v1", 90],
      ["web", "v2", 10],
    ]);
    expect(route.retries).toMatchObject({ attempts: 2, retryIgnorePreviousHosts: true });
  });

  test("a URL service keeps its form and may carry a policy; retryIgnorePreviousHosts: false is kept", () => {
    const config = parseConfig(
      yaml`
        ${LISTENER}
        services:
          api:
            url: https://api.internal:8443
            tls: { ca: ca.crt }
            connectionPool: { tcp: { maxConnections: 10 } }
        routes:
          - hosts: ["*"]
            http: [{ route: [{ destination: api }], retries: { attempts: 1, retryIgnorePreviousHosts: false } }]
      `,
      "routes.yaml",
    );
    expect(config.services.get("api")).toEqual({
      name: "api",
      url: "https://api.internal:8443",
      host: "api.internal",
      port: 8443,
      source: { file: "routes.yaml", line: 3, path: "services.api" },
      tls: { ca: resolve("ca.crt") },
      trafficPolicy: { connectionPool: { tcp: { maxConnections: 10 } } },
    });
    expect(config.routes[0]!.http[0]!.retries!.retryIgnorePreviousHosts).toBe(false);
  });
});

describe("routes.yaml pool errors, each at its line and field", () => {
  test("shapes and rules of a service", () => {
    const text = yaml`
      ${LISTENER}
      services:
        a: { tls: { ca: ca.crt } }
        b:
          url: http://b
          endpoints: [{ address: 10.0.0.1 }]
          resolution: DNS
          subsets: [{ name: v1 }]
        c:
          endpoints:
            - { address: c.internal, port: 0, weight: 0 }
            - { address: "*.c.internal", labels: { version: 2 } }
          resolution: NONE
          healthCheck: { http: { path: healthz }, tcp: {}, timeout: 5s, interval: 1s }
          loadBalancer: { simple: LEAST_REQUESTS }
        d:
          endpoints: [{ address: d.internal }]
          resolution: STATIC
          tls: { cert: c.crt, credential: x }
          subsets:
            - { name: v1, trafficPolicy: { healthCheck: { tcp: {} } } }
            - { name: v1 }
        e:
          endpoints: [{ address: 10.0.0.5 }]
          resolution: DNS
          tls: { credential: missing }
    `;
    expect(errors(text)).toEqual([
      "routes.yaml:3: services.a.url: required field is missing; expected an http://, https://, h2c://, h2:// or tcp:// URL with a host and no path or query, such as http://127.0.0.1:9080 (or endpoints)",
      "routes.yaml:6: services.b.endpoints: url and endpoints are alternatives: set one of them",
      "routes.yaml:11: services.c.endpoints[0].port: expected an integer 1..65535, got 0",
      "routes.yaml:11: services.c.endpoints[0].weight: expected an integer 1..4294967295, got 0",
      'routes.yaml:12: services.c.endpoints[1].address: expected an IP address or a host name, got "*.c.internal": no wildcards',
      "routes.yaml:12: services.c.endpoints[1].labels.version: expected a label value, got 2",
      "routes.yaml:13: services.c.resolution: resolution NONE is not supported by Portico: it sends each connection to the address the client originally connected to, which only a sidecar that intercepted the connection knows; use STATIC with IP addresses, or DNS",
      'routes.yaml:14: services.c.healthCheck.http.path: expected a path starting with "/", got "healthz"',
      "routes.yaml:14: services.c.healthCheck: expected exactly one of http or tcp, got both",
      "routes.yaml:14: services.c.healthCheck.timeout: a check's timeout must not be longer than its interval",
      'routes.yaml:15: services.c.loadBalancer.simple: expected UNSPECIFIED or RANDOM or PASSTHROUGH or ROUND_ROBIN or LEAST_REQUEST or LEAST_CONN, got "LEAST_REQUESTS"; did you mean "LEAST_REQUEST"?',
      "routes.yaml:19: services.d.tls: cert and key go together: set both or neither",
      "routes.yaml:19: services.d.tls.credential: credential and cert/key are alternatives: set one of them",
      'routes.yaml:21: services.d.subsets[0].trafficPolicy.healthCheck: field "healthCheck" is not supported by Portico: health checks watch every endpoint of the service; set healthCheck on the service',
    ]);
  });

  test("after the shapes: addresses against resolution, credentials, subset names, routes to subsets", () => {
    const text = yaml`
      ${LISTENER}
      credentials: { client: { cert: c.crt, key: c.key } }
      services:
        d:
          endpoints: [{ address: d.internal, labels: { version: v1 } }]
          resolution: STATIC
          subsets: [{ name: v1, labels: { version: v1 } }, { name: v1 }, { name: v3, labels: { version: v3 } }]
        e:
          endpoints: [{ address: 10.0.0.5 }]
          resolution: DNS
          tls: { credential: clent }
      routes:
        - hosts: ["*"]
          http:
            - route: [{ destination: { host: d, subset: v2 } }]
              mirror: { host: e, subset: v1 }
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:5: services.d.endpoints[0].address: "d.internal" is a host name; resolution STATIC needs IP addresses (use resolution DNS to resolve names)',
      'routes.yaml:7: services.d.subsets[1].name: subset "v1" is defined twice',
      'routes.yaml:11: services.e.tls.credential: unknown credential "clent"; did you mean "client"?',
    ]);
    const fixed = text
      .replace("address: d.internal", "address: 10.0.0.4")
      .replace("clent", "client")
      .replace(", { name: v1 }", "");
    expect(errors(fixed)).toEqual([
      'routes.yaml:15: routes[0].http[0].route[0].destination.subset: unknown subset "v2" of service "d"; did you mean "v1"?',
      'routes.yaml:16: routes[0].http[0].mirror.subset: unknown subset "v1" of service "e": it has no subsets; define them in a DestinationRule for host e (or under services.e.subsets in routes.yaml)',
    ]);
  });

  test("retryIgnorePreviousHosts takes true or false", () => {
    const text = yaml`
      ${LISTENER}
      services: { a: http://a }
      routes:
        - hosts: ["*"]
          http: [{ route: [{ destination: a }], retries: { attempts: 1, retryIgnorePreviousHosts: "yes" } }]
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:5: routes[0].http[0].retries.retryIgnorePreviousHosts: expected true or false, got "yes"',
    ]);
  });
});

describe("provisioning pools", () => {
  test("every service and subset becomes a pool spec; only pooled ones are reached through it", async () => {
    const text = yaml`
      ${LISTENER}
      services:
        web:
          endpoints: [{ address: 127.0.0.1, port: 9, labels: { v: "1" } }, { address: 127.0.0.2, port: 9 }]
          loadBalancer: { simple: ROUND_ROBIN }
          connectionPool: { tcp: { maxConnections: 3, connectTimeout: 2s } }
          subsets:
            - name: v1
              labels: { v: "1" }
              trafficPolicy: { loadBalancer: { simple: RANDOM } }
        api: { url: http://127.0.0.1:9, outlierDetection: { baseEjectionTime: 1s } }
        plain: http://127.0.0.1:9
      routes:
        - hosts: ["*"]
          http: [{ route: [{ destination: { host: web, subset: v1 } }] }]
    `;
    const { plan } = await provision(parseConfig(text, "/x/routes.yaml"));
    const pools = plan.pools;
    expect([...pools.keys()].sort()).toEqual(["api", "plain", "web", "web/v1"]);
    const web = pools.get("web")!;
    expect(web.direct).toBe(false);
    expect(web.spec.loadBalancer).toEqual({ kind: "ROUND_ROBIN" });
    expect(web.spec.connectionPool.maxConnections).toBe(3);
    expect(web.spec.connectionPool.connectTimeoutMs).toBe(2000);
    expect(web.spec.endpoints.map((e) => e.address)).toEqual(["127.0.0.1", "127.0.0.2"]);
    const v1 = pools.get("web/v1")!;
    expect(v1.spec.endpoints.map((e) => e.address)).toEqual(["127.0.0.1"]);
    expect(v1.spec.loadBalancer).toEqual({ kind: "RANDOM" });
    // The subset replaces the service's loadBalancer section only (Istio's MergeTrafficPolicy).
    expect(v1.spec.connectionPool.maxConnections).toBe(3);
    expect(pools.get("api")!.spec.outlierDetection?.baseEjectionTimeMs).toBe(1000);
    expect(pools.get("api")!.spec.outlierDetection?.maxEjectionPercent).toBe(10);
    expect(pools.get("plain")!.direct).toBe(true);
    const route = plan.listeners[0]!.vhosts.match("x")!.routes[0]!;
    expect(route.action.kind === "proxy" && route.action.upstreams[0]!.pool).toBe(v1);
  });
});
