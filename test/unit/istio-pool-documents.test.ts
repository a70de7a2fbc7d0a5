// ServiceEntry, WorkloadEntry and DestinationRule documents → services with endpoints, traffic
// policy and subsets (issue 10), loaded unchanged as Gateway and VirtualService are; every
// accepted form maps onto the model, every refusal has its exact message with file, line and field.
import { describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { loadSources, type ConfigFileOptions } from "../../src/cli/config-files.ts";
import type { TrafficPolicyConfig } from "../../src/config/model.ts";
import { type ConfigIssue, formatIssue } from "../../src/util/errors.ts";
import { configErrorsAsync } from "../helpers/config-errors.ts";
import { writeConfig } from "../helpers/portico.ts";
import { yaml } from "../helpers/yaml.ts";

const file = (text: string) => writeConfig(text, "istio.yaml");
const errors = (text: string, opts: ConfigFileOptions = {}) => {
  const path = file(text);
  return configErrorsAsync(() => loadSources([path], opts)).then((lines) => ({ path, lines }));
};
async function load(text: string, opts: ConfigFileOptions = {}) {
  const path = file(text);
  const warnings: ConfigIssue[] = [];
  const config = await loadSources([path], { ...opts, warn: (w) => warnings.push(w) });
  return { path, config, warnings: warnings.map(formatIssue) };
}
const services = (entries: Record<string, string>) => new Map(Object.entries(entries));

const GATEWAY = yaml`
  apiVersion: networking.istio.io/v1
  kind: Gateway
  metadata: { name: gw }
  spec:
    servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*"]
`;

// The book's canary (Istio in Action ch. 5, Istio's "Traffic Shifting" task): a ServiceEntry with
// labelled endpoints, a DestinationRule with subsets v1 and v2, a VirtualService 90/10.
const CANARY = `${GATEWAY}
---
${yaml`
  apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: { name: catalog }
  spec:
    hosts: [catalog.istioinaction.svc.cluster.local]
    location: MESH_INTERNAL
    ports:
    - { number: 80, name: http, protocol: HTTP, targetPort: 3000 }
    resolution: STATIC
    endpoints:
    - address: 127.0.0.2
      labels: { app: catalog, version: v1 }
    - address: 127.0.0.3
      ports: { http: 3001 }
      labels: { app: catalog, version: v2 }
      weight: 3
  ---
  apiVersion: networking.istio.io/v1beta1
  kind: DestinationRule
  metadata: { name: catalog }
  spec:
    host: catalog.istioinaction.svc.cluster.local
    subsets:
    - name: version-v1
      labels: { version: v1 }
    - name: version-v2
      labels: { version: v2 }
  ---
  apiVersion: networking.istio.io/v1alpha3
  kind: VirtualService
  metadata: { name: catalog-vs-from-gw }
  spec:
    hosts: [catalog.istioinaction.io]
    gateways: [gw]
    http:
    - route:
      - destination: { host: catalog, subset: version-v1 }
        weight: 90
      - destination: { host: catalog, subset: version-v2 }
        weight: 10
`}`;

describe("the canary: ServiceEntry + DestinationRule subsets + VirtualService 90/10", () => {
  test("loads unchanged into services, endpoints, subsets and weighted subset destinations", async () => {
    const { path, config, warnings } = await load(CANARY);
    expect(warnings).toEqual([]);
    const host = "catalog.istioinaction.svc.cluster.local";
    expect([...config.services.values()]).toEqual([
      {
        name: host,
        url: `http://${host}`,
        host,
        port: 80,
        source: { file: path, line: 14, path: "spec.hosts[0]" },
        endpoints: [
          {
            address: "127.0.0.2",
            port: 3000,
            weight: 1,
            labels: { app: "catalog", version: "v1" },
            source: { file: path, line: 20, path: "spec.endpoints[0]" },
          },
          {
            address: "127.0.0.3",
            port: 3001,
            weight: 3,
            labels: { app: "catalog", version: "v2" },
            source: { file: path, line: 22, path: "spec.endpoints[1]" },
          },
        ],
        resolution: "STATIC",
        subsets: [
          {
            name: "version-v1",
            labels: { version: "v1" },
            source: { file: path, line: 33, path: "spec.subsets[0]" },
          },
          {
            name: "version-v2",
            labels: { version: "v2" },
            source: { file: path, line: 35, path: "spec.subsets[1]" },
          },
        ],
      },
    ]);
    const route = config.routes[0]!.http[0]!;
    expect(route.destinations).toEqual([
      {
        service: host,
        weight: 90,
        source: { file: path, line: 46, path: "spec.http[0].route[0]" },
        subset: {
          name: "version-v1",
          source: { file: path, line: 46, path: "spec.http[0].route[0].destination.subset" },
        },
      },
      {
        service: host,
        weight: 10,
        source: { file: path, line: 48, path: "spec.http[0].route[1]" },
        subset: {
          name: "version-v2",
          source: { file: path, line: 48, path: "spec.http[0].route[1].destination.subset" },
        },
      },
    ]);
  });
});

describe("DestinationRule: traffic policy on the service its host names", () => {
  test("every section and form maps onto the model, with Istio's defaults filled in", async () => {
    const { path, config, warnings } = await load(
      yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: webapp }
      spec:
        host: webapp.istioinaction.svc.cluster.local
        trafficPolicy:
          loadBalancer:
            consistentHash:
              httpCookie: { name: user, path: /, ttl: 60s }
              maglev: { tableSize: 65537 }
          connectionPool:
            tcp:
              maxConnections: 100
              connectTimeout: 30ms
              tcpKeepalive: { probes: 3, time: 7200s, interval: 75s }
            http:
              http1MaxPendingRequests: 10
              http2MaxRequests: 0
              maxRequestsPerConnection: 1
              maxRetries: 3
              idleTimeout: 1m
              h2UpgradePolicy: DO_NOT_UPGRADE
          outlierDetection:
            consecutive5xxErrors: 1
            interval: 5s
            baseEjectionTime: 15s
            maxEjectionPercent: 100
          tls:
            mode: SIMPLE
            caCertificates: certs/ca.crt
            sni: webapp.internal
            subjectAltNames: [spiffe://webapp]
        subsets:
        - name: v1
          labels: { version: v1 }
          trafficPolicy:
            loadBalancer: { simple: LEAST_CONN }
            outlierDetection: { splitExternalLocalOriginErrors: true }
        - name: v2
          labels: { version: v2 }
          trafficPolicy:
            tls: { mode: DISABLE }
    `,
      { services: services({ webapp: "http://127.0.0.1:9080" }) },
    );
    expect(warnings).toEqual([
      // No runtime lets Portico set these two; time is applied.
      `${path}:15: spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.probes: not applied: the system's value is used (only time can be set)`,
      `${path}:15: spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.interval: not applied: the system's value is used (only time can be set)`,
      `${path}:37: spec.subsets[0].trafficPolicy.loadBalancer.simple: LEAST_CONN is deprecated in Istio; read as LEAST_REQUEST`,
      // A single-URL service is one endpoint without labels.
      `${path}:34: spec.subsets[0]: subset "v1" of service "webapp": labels version=v1 select no endpoint; requests routed to it will fail`,
      `${path}:39: spec.subsets[1]: subset "v2" of service "webapp": labels version=v2 select no endpoint; requests routed to it will fail`,
    ]);
    const policy: TrafficPolicyConfig = {
      loadBalancer: {
        consistentHash: {
          key: { kind: "cookie", name: "user", path: "/", ttlMs: 60_000 },
          table: { kind: "maglev", tableSize: 65_537 },
        },
      },
      connectionPool: {
        tcp: {
          maxConnections: 100,
          connectTimeoutMs: 30,
          tcpKeepalive: { probes: 3, timeMs: 7_200_000, intervalMs: 75_000 },
        },
        http: {
          http1MaxPendingRequests: 10,
          maxRequestsPerConnection: 1,
          maxRetries: 3,
          idleTimeoutMs: 60_000,
        },
      },
      outlierDetection: {
        consecutive5xxErrors: 1,
        consecutiveGatewayErrors: 0,
        splitExternalLocalOriginErrors: false,
        intervalMs: 5_000,
        baseEjectionTimeMs: 15_000,
        maxEjectionPercent: 100,
        minHealthPercent: 0,
      },
    };
    const webapp = config.services.get("webapp")!;
    expect(webapp).toEqual({
      name: "webapp",
      // TLS origination (mode SIMPLE) on the service's own port, as Istio does.
      url: "https://127.0.0.1:9080",
      host: "127.0.0.1",
      port: 9080,
      source: { file: "--service", line: 0, path: "webapp" },
      tls: {
        mode: "SIMPLE",
        ca: join(dirname(path), "certs/ca.crt"),
        serverName: "webapp.internal",
        subjectAltNames: ["spiffe://webapp"],
      },
      trafficPolicy: policy,
      subsets: [
        {
          name: "v1",
          labels: { version: "v1" },
          trafficPolicy: {
            ...policy,
            loadBalancer: { simple: "LEAST_REQUEST" },
            outlierDetection: {
              consecutive5xxErrors: 5,
              consecutiveGatewayErrors: 0,
              splitExternalLocalOriginErrors: true,
              consecutiveLocalOriginFailures: 5,
              intervalMs: 10_000,
              baseEjectionTimeMs: 30_000,
              maxEjectionPercent: 10,
              minHealthPercent: 0,
            },
          },
          source: { file: path, line: 34, path: "spec.subsets[0]" },
        },
        {
          name: "v2",
          labels: { version: "v2" },
          trafficPolicy: { ...policy, tls: { mode: "DISABLE" } },
          source: { file: path, line: 39, path: "spec.subsets[1]" },
        },
      ],
    });
  });

  test("hash keys: header, source IP, query parameter; ring hash (and its deprecated minimumRingSize)", async () => {
    const rule = (name: string, host: string, hash: string) => yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: ${name} }
      spec:
        host: ${host}
        trafficPolicy: { loadBalancer: { consistentHash: ${hash} } }
    `;
    const text = [
      rule("a", "a", "{ httpHeaderName: X-User }"),
      rule("b", "b", "{ useSourceIp: true, ringHash: { minimumRingSize: 2048 } }"),
      rule("c", "c", "{ httpQueryParameterName: user, minimumRingSize: 64 }"),
      rule("d", "d", "{ httpCookie: { name: s }, ringHash: {} }"),
    ].join("---\n");
    const { config } = await load(text, {
      services: services({ a: "http://a", b: "http://b", c: "http://c", d: "http://d" }),
    });
    const lb = (s: string) => config.services.get(s)!.trafficPolicy!.loadBalancer;
    expect(lb("a")).toEqual({ consistentHash: { key: { kind: "header", name: "x-user" } } });
    expect(lb("b")).toEqual({
      consistentHash: { key: { kind: "sourceIp" }, table: { kind: "ringHash", minimumRingSize: 2048 } },
    });
    expect(lb("c")).toEqual({
      consistentHash: {
        key: { kind: "queryParameter", name: "user" },
        table: { kind: "ringHash", minimumRingSize: 64 },
      },
    });
    expect(lb("d")).toEqual({
      consistentHash: {
        key: { kind: "cookie", name: "s" },
        table: { kind: "ringHash", minimumRingSize: 1024 },
      },
    });
  });

  test("portLevelSettings for the service's port override the rule's sections; other ports are ignored", async () => {
    const { path, config, warnings } = await load(
      yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: api }
      spec:
        host: api.example.com
        trafficPolicy:
          loadBalancer: { simple: RANDOM }
          connectionPool: { tcp: { maxConnections: 5 } }
          portLevelSettings:
          - port: { number: 443 }
            tls: { mode: SIMPLE }
            loadBalancer: { simple: ROUND_ROBIN }
          - port: { number: 8443 }
            loadBalancer: { simple: LEAST_REQUEST }
    `,
      { services: services({ api: "http://api.example.com:443" }) },
    );
    expect(warnings).toEqual([
      `${path}:13: spec.trafficPolicy.portLevelSettings[1].port.number: ignored: service "api" has port 443 only`,
    ]);
    const api = config.services.get("api")!;
    expect(api.url).toBe("https://api.example.com");
    expect(api.tls).toEqual({ mode: "SIMPLE" });
    expect(api.trafficPolicy).toEqual({
      loadBalancer: { simple: "ROUND_ROBIN" },
      connectionPool: { tcp: { maxConnections: 5 } },
    });
  });

  test("tls: MUTUAL with credentialName resolves like a Gateway's; DISABLE turns an https:// service into http://", async () => {
    const { config } = await load(
      yaml`
      apiVersion: v1
      kind: Secret
      metadata: { name: client-cred }
      stringData: { tls.crt: CERT, tls.key: KEY, ca.crt: CA }
      ---
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: a }
      spec:
        host: a
        trafficPolicy: { tls: { mode: MUTUAL, credentialName: client-cred, insecureSkipVerify: true } }
      ---
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: b }
      spec:
        host: b
        trafficPolicy: { tls: { mode: DISABLE } }
    `,
      { services: services({ a: "http://a:8443", b: "https://b" }) },
    );
    expect(config.services.get("a")!.tls).toEqual({
      mode: "MUTUAL",
      credential: "client-cred",
      insecureSkipVerify: true,
    });
    expect(config.services.get("a")!.url).toBe("https://a:8443");
    expect(config.credentials.get("client-cred")!.inline).toEqual({ cert: "CERT", key: "KEY", ca: "CA" });
    expect(config.services.get("b")!.tls).toBeUndefined();
    expect(config.services.get("b")!.url).toBe("http://b:443");
  });

  test("a host no service has is accepted with a warning, as Istio accepts it", async () => {
    const { path, warnings } = await load(yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: ghost }
      spec:
        host: ghost.default.svc.cluster.local
        trafficPolicy: { loadBalancer: { simple: RANDOM } }
    `);
    expect(warnings).toEqual([
      `${path}:5: spec.host: host "ghost.default.svc.cluster.local" names no service; this DestinationRule applies to nothing (Istio accepts it too)`,
    ]);
  });
});

describe("ServiceEntry and WorkloadEntry: services by host", () => {
  test("DNS without endpoints resolves the hosts themselves, one service per host; a short name finds the FQDN", async () => {
    const { path, config, warnings } = await load(yaml`
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: external }
      spec:
        hosts: [api.example.com, Localhost]
        ports: [{ number: 8080, name: http, protocol: HTTP }]
        resolution: DNS
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: ServiceEntry
      metadata: { name: internal }
      spec:
        hosts: [ratings.prod.svc.cluster.local]
        ports: [{ number: 9080, name: http }]
        resolution: DNS_ROUND_ROBIN
        endpoints: [{ address: ratings.internal }]
      ---
      ${GATEWAY.replaceAll("\n", "\n      ")}
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: vs }
      spec:
        hosts: [a.test]
        gateways: [gw]
        http: [{ route: [{ destination: { host: ratings } }] }]
    `);
    expect(warnings).toEqual([]);
    expect(config.services.get("localhost")).toEqual({
      name: "localhost",
      url: "http://localhost:8080",
      host: "localhost",
      port: 8080,
      source: { file: path, line: 5, path: "spec.hosts[1]" },
      endpoints: [
        {
          address: "localhost",
          port: 8080,
          weight: 1,
          labels: {},
          source: { file: path, line: 5, path: "spec.hosts[1]" },
        },
      ],
      resolution: "DNS",
    });
    expect(config.services.get("api.example.com")!.endpoints!.map((e) => e.address)).toEqual([
      "api.example.com",
    ]);
    const ratings = config.services.get("ratings.prod.svc.cluster.local")!;
    expect(ratings.resolution).toBe("DNS_ROUND_ROBIN");
    expect(ratings.endpoints!.map((e) => `${e.address}:${e.port}`)).toEqual(["ratings.internal:9080"]);
    expect(config.routes[0]!.http[0]!.destinations[0]!.service).toBe("ratings.prod.svc.cluster.local");
  });

  test("a GRPC or HTTP2 port, or a port named grpc-*/http2-* without a protocol, speaks HTTP/2", async () => {
    const entry = (name: string, port: string) => yaml`
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: ${name} }
      spec:
        hosts: [${name}.example.test]
        ports: [${port}]
        resolution: STATIC
        endpoints: [{ address: 127.0.0.1 }]
    `;
    const { config } = await load(
      [
        entry("a", "{ number: 50051, name: api, protocol: GRPC }"),
        entry("b", "{ number: 8080, name: web, protocol: http2 }"),
        entry("c", "{ number: 50051, name: grpc-api }"),
        entry("d", "{ number: 80, name: grpc-api, protocol: HTTP }"),
        entry("e", "{ number: 80, name: http }"),
      ].join("---\n"),
    );
    const protocols = ["a", "b", "c", "d", "e"].map(
      (n) => config.services.get(`${n}.example.test`)?.protocol,
    );
    expect(protocols).toEqual(["http2", "http2", "http2", undefined, undefined]);
  });

  test("workloadSelector picks WorkloadEntry documents by label, wherever they are in the files", async () => {
    const { path, config, warnings } = await load(yaml`
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: details }
      spec:
        hosts: [details.bookinfo.com]
        ports: [{ number: 80, name: http, targetPort: 8080 }]
        resolution: STATIC
        workloadSelector: { labels: { app: details } }
      ---
      apiVersion: networking.istio.io/v1
      kind: WorkloadEntry
      metadata: { name: details-vm-1 }
      spec:
        address: 10.0.0.1
        labels: { app: details, version: v1 }
        weight: 0
        serviceAccount: details
      ---
      apiVersion: networking.istio.io/v1
      kind: WorkloadEntry
      metadata: { name: details-vm-2 }
      spec:
        address: 10.0.0.2
        ports: { http: 9000 }
        labels: { app: details, version: v2 }
        weight: 4
      ---
      apiVersion: networking.istio.io/v1
      kind: WorkloadEntry
      metadata: { name: other }
      spec:
        address: 10.0.0.3
        labels: { app: reviews }
    `);
    expect(warnings).toEqual([
      `${path}:28: WorkloadEntry "other" (labels: app=reviews) is selected by no ServiceEntry workloadSelector; it receives no traffic`,
    ]);
    expect(config.services.get("details.bookinfo.com")!.endpoints).toEqual([
      {
        address: "10.0.0.1",
        port: 8080,
        // proto3: 0 is unset, and Istio's default weight is 1.
        weight: 1,
        labels: { app: "details", version: "v1" },
        source: { file: path, line: 13, path: "spec" },
      },
      {
        address: "10.0.0.2",
        port: 9000,
        weight: 4,
        labels: { app: "details", version: "v2" },
        source: { file: path, line: 22, path: "spec" },
      },
    ]);
  });
});

describe("errors and warnings, each at its file, line and field", () => {
  test("ServiceEntry and WorkloadEntry", async () => {
    const { path, lines } = await errors(yaml`
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: a }
      spec:
        hosts: ["*.example.com"]
        ports: [{ number: 80, name: http }]
        resolution: NONE
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: b }
      spec:
        hosts: [b.test]
        ports: [{ number: 80, name: http }, { number: 443, name: https }]
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: c }
      spec:
        hosts: [c.test]
        ports: [{ number: 80, name: http }]
        resolution: STATIC
        endpoints:
        - { address: c.internal, weight: -1 }
        - { address: 10.0.0.1, locality: us-east1, network: n1 }
        - { address: "unix:///var/run/c.sock" }
        workloadSelector: { labels: { app: c } }
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: d }
      spec:
        hosts: [d.test]
        ports: [{ number: 80, name: http }]
        resolution: STATIC
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: e }
      spec:
        hosts: [d.test]
        ports: [{ number: 70000, name: http }]
        resolution: DNS
        endpoints: [{ address: d.internal, ports: { http: 0 } }]
      ---
      apiVersion: networking.istio.io/v1
      kind: WorkloadEntry
      metadata: { name: w }
      spec:
        adress: 10.0.0.9
    `);
    expect(lines).toEqual([
      `${path}:5: spec.hosts[0]: a wildcard host needs resolution NONE (each connection's original destination), which Portico does not support; list the host names`,
      `${path}:7: spec.resolution: resolution NONE is not supported by Portico: it sends each connection to the address the client originally connected to, which only a sidecar that intercepted the connection knows; use STATIC with IP addresses, or DNS`,
      `${path}:12: spec.resolution: required field is missing: Istio's default is NONE (each connection's original destination), which Portico does not support; expected STATIC with endpoints, DNS or DNS_ROUND_ROBIN`,
      `${path}:14: spec.ports[1]: a Portico service has one port, and this ServiceEntry lists several; keep the port the gateway routes to (or write one ServiceEntry per port, with distinct hosts)`,
      `${path}:24: spec.endpoints[0].weight: expected an integer 0..4294967295, got -1`,
      `${path}:25: spec.endpoints[1].locality: field "locality" is not supported by Portico: Portico has no localities: every endpoint is in one place`,
      `${path}:25: spec.endpoints[1].network: field "network" is not supported by Portico: Portico has no networks: every endpoint is reached directly`,
      `${path}:26: spec.endpoints[2].address: Unix domain socket endpoints are not supported by Portico; give an IP address or a host name`,
      `${path}:27: spec.workloadSelector: endpoints and workloadSelector are alternatives: set one of them`,
      `${path}:35: spec.resolution: STATIC needs endpoints or a workloadSelector: there is no address to send to`,
      `${path}:42: spec.ports[0].number: expected an integer 1..65535, got 70000`,
      `${path}:44: spec.endpoints[0].ports.http: expected an integer 1..65535, got 0`,
      `${path}:49: spec.address: required field is missing; expected an IP address or a host name`,
      `${path}:50: spec.adress: unknown field "adress"; did you mean "address"?`,
    ]);
  });

  test("addresses and resolution, a host defined twice, a selector that selects nothing", async () => {
    const text = yaml`
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: a }
      spec:
        hosts: [a.test, web]
        addresses: [240.0.0.1]
        ports: [{ number: 80, name: http }]
        resolution: STATIC
        endpoints: [{ address: a.internal }, { address: 10.0.0.1 }]
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: b }
      spec:
        hosts: [b.test]
        ports: [{ number: 80, name: http }]
        resolution: DNS
        endpoints: [{ address: 10.0.0.2 }]
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: c }
      spec:
        hosts: [c.test, A.test]
        ports: [{ number: 80, name: http }]
        resolution: STATIC
        workloadSelector: { labels: { app: c } }
    `;
    const opts = { services: services({ web: "http://127.0.0.1:1" }) };
    const { path, lines } = await errors(text, opts);
    expect(lines).toEqual([
      `${path}:5: spec.hosts[1]: service "web" is already defined at --service:0 (web)`,
      `${path}:9: spec.endpoints[0].address: "a.internal" is a host name; resolution STATIC needs IP addresses (use resolution DNS to resolve names)`,
      `${path}:24: spec.hosts[1]: service "a.test" is already defined at ${path}:5 (spec.hosts[0])`,
    ]);
    const warnings: string[] = [];
    await loadSources([path], { ...opts, warn: (w) => warnings.push(formatIssue(w)) }).catch(() => {});
    expect(warnings).toEqual([
      `${path}:6: spec.addresses: ignored: virtual IPs are for sidecars that intercept connections; Portico routes by host`,
      `${path}:18: spec.endpoints[0].address: "10.0.0.2" is an IP address: resolution DNS has nothing to resolve; use STATIC`,
      `${path}:27: spec.workloadSelector: selects no WorkloadEntry document (loaded: none); the service has no endpoints`,
    ]);
  });

  test("DestinationRule: conflicting and refused policies, two rules for one host, unknown subsets", async () => {
    const text = yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: a }
      spec:
        host: a
        workloadSelector: { matchLabels: { app: a } }
        trafficPolicy:
          loadBalancer:
            simple: LEAST_REQUEST
            consistentHash: { httpHeaderName: x, useSourceIp: true, ringHash: {}, maglev: { tableSize: 1000 } }
            localityLbSetting: { enabled: true }
          connectionPool:
            tcp: { maxConnections: -1, connectTimeout: 0s, idleTimeout: 1h }
            http: { h2UpgradePolicy: UPGRADE, useClientProtocol: true }
          outlierDetection: { consecutiveErrors: 5, maxEjectionPercent: 101, interval: 10 }
          tls: { mode: ISTIO_MUTUAL, credentialName: c, caCertificates: ca.pem }
          tunnel: { protocol: CONNECT }
        subsets:
        - name: V1
        - { name: v2, labels: { version: v2 }, trafficPolicy: { loadBalancer: { simple: PASSTHROUGH } } }
      ---
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: b }
      spec:
        host: b.default.svc.cluster.local
        subsets:
        - { name: v1, labels: { version: v1 } }
        - { name: v1, labels: { version: v2 } }
      ---
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: b-again }
      spec:
        host: b
        subsets: [{ name: v3 }]
      ---
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: c }
      spec:
        host: c
        trafficPolicy:
          loadBalancer: { consistentHash: { httpCookie: { ttl: 1s } } }
          tls: { mode: MUTUAL, clientCertificate: c.pem }
          healthCheck: { tcp: {} }
      ---
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: star }
      spec:
        host: "*.example.com"
      ---
      ${GATEWAY.replaceAll("\n", "\n      ")}
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: vs }
      spec:
        hosts: [a.test]
        gateways: [gw]
        http:
        - route: [{ destination: { host: b, subset: v2 } }]
          mirror: { host: b, subset: v11 }
        - route: [{ destination: { host: c, subset: v1 } }]
          retries: { attempts: 2, retryIgnorePreviousHosts: false }
    `;
    const svc = services({ a: "http://a", b: "http://b", c: "http://c" });
    const { path, lines } = await errors(text, { services: svc });
    expect(lines).toEqual([
      `${path}:6: spec.workloadSelector: field "workloadSelector" is not supported by Portico: it picks the sidecars a rule applies to; Portico is the gateway, and a rule applies to it for its host`,
      `${path}:8: spec.trafficPolicy.loadBalancer: expected one of simple or consistentHash, got both`,
      `${path}:10: spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: expected a prime number up to 5000011, such as 65537, got 1000`,
      `${path}:10: spec.trafficPolicy.loadBalancer.consistentHash: expected exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName, got httpHeaderName and useSourceIp`,
      `${path}:10: spec.trafficPolicy.loadBalancer.consistentHash.maglev: expected one of ringHash or maglev, got both`,
      `${path}:11: spec.trafficPolicy.loadBalancer.localityLbSetting: field "localityLbSetting" is not supported by Portico: Portico has no localities: every endpoint is in one place`,
      `${path}:13: spec.trafficPolicy.connectionPool.tcp.maxConnections: expected an integer >= 0, got -1`,
      `${path}:13: spec.trafficPolicy.connectionPool.tcp.connectTimeout: expected a duration of at least 1ms, got "0s"`,
      `${path}:13: spec.trafficPolicy.connectionPool.tcp.idleTimeout: field "idleTimeout" is not supported by Portico: use http.idleTimeout: Portico's pools hold HTTP connections`,
      `${path}:14: spec.trafficPolicy.connectionPool.http.useClientProtocol: field "useClientProtocol" is not supported by Portico: Portico speaks to a service the protocol the service names`,
      `${path}:14: spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: UPGRADE is not supported by Portico: a service speaks HTTP/2 when the service says so (protocol HTTP2), not by upgrading HTTP/1.1 connections`,
      `${path}:15: spec.trafficPolicy.outlierDetection.interval: expected a duration like 15s or 250ms, got 10`,
      `${path}:15: spec.trafficPolicy.outlierDetection.maxEjectionPercent: expected an integer 0..100, got 101`,
      `${path}:15: spec.trafficPolicy.outlierDetection.consecutiveErrors: field "consecutiveErrors" is not supported by Portico: deprecated in Istio; use consecutive5xxErrors or consecutiveGatewayErrors`,
      `${path}:16: spec.trafficPolicy.tls.mode: ISTIO_MUTUAL is not supported by Portico: it uses the certificates Istio's mesh CA issues to workloads, and Portico has no mesh; use MUTUAL with credentialName, or clientCertificate and privateKey`,
      `${path}:16: spec.trafficPolicy.tls.credentialName: credentialName and the file fields are alternatives: set one of them`,
      `${path}:17: spec.trafficPolicy.tunnel: field "tunnel" is not supported by Portico: Portico does not tunnel upstream connections`,
      `${path}:19: spec.subsets[0].name: expected a subset name (lower-case letters, digits and '-', at most 63), got "V1"`,
      `${path}:20: spec.subsets[1].trafficPolicy.loadBalancer.simple: PASSTHROUGH is not supported by Portico: it sends each request to the address the client connected to (the original destination), which a gateway outside a mesh does not have`,
      `${path}:29: spec.subsets[1].name: subset "v1" is defined twice`,
      `${path}:35: spec.host: service "b" already has the DestinationRule "b" (${path}:26); Istio would use the oldest and ignore the other, Portico asks for one: merge them`,
      `${path}:44: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name: required field is missing; expected a cookie name`,
      `${path}:45: spec.trafficPolicy.tls: clientCertificate and privateKey go together: set both or neither`,
      `${path}:46: spec.trafficPolicy.healthCheck: field "healthCheck" is not supported by Portico: Istio has no active health checks; Portico's are set on a routes.yaml service (healthCheck)`,
      `${path}:52: spec.host: a DestinationRule for a wildcard host is not supported by Portico; name the service's host`,
      // Subsets are checked once every document is read.
      `${path}:70: spec.http[0].route[0].destination.subset: unknown subset "v2" of service "b"; did you mean "v1"?`,
      `${path}:71: spec.http[0].mirror.subset: unknown subset "v11" of service "b"; did you mean "v1"?`,
      `${path}:72: spec.http[1].route[0].destination.subset: unknown subset "v1" of service "c": it has no subsets; define them in a DestinationRule for host c (or under services.c.subsets in routes.yaml)`,
    ]);
  });
});

describe("DestinationRules with routes.yaml", () => {
  test("a routes.yaml route names a subset that a DestinationRule defines", async () => {
    const routes = writeConfig(
      yaml`
        listeners: [{ port: 8080, protocol: HTTP }]
        services:
          web: { endpoints: [{ address: 10.0.0.1, labels: { v: "1" } }] }
        routes:
          - hosts: ["*"]
            http: [{ route: [{ destination: { host: web, subset: one } }] }]
      `,
      "routes.yaml",
    );
    const istio = file(yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: web }
      spec:
        host: web
        subsets: [{ name: one, labels: { v: "1" } }]
    `);
    const config = await loadSources([routes, istio]);
    expect(config.services.get("web")!.subsets!.map((s) => s.name)).toEqual(["one"]);
    expect(config.routes[0]!.http[0]!.destinations[0]!.subset!.name).toBe("one");
  });

  test("an HTTPS ServiceEntry port that HTTP routes reach without TLS origination warns", async () => {
    const entry = yaml`
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: { name: secure }
      spec:
        hosts: [secure.test]
        ports: [{ number: 443, name: https, protocol: HTTPS }]
        resolution: DNS
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: vs }
      spec:
        hosts: [a.test]
        gateways: [gw]
        http: [{ route: [{ destination: { host: secure.test } }] }]
    `;
    const { path, warnings } = await load(`${GATEWAY}---\n${entry}`);
    expect(warnings).toEqual([
      `${path}:14: spec.ports[0].protocol: the endpoints of "secure.test" speak TLS, but HTTP routes would reach them in plain HTTP; add a DestinationRule with tls mode SIMPLE (TLS origination), or use the port from tls routes only`,
    ]);
    const rule = yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: secure }
      spec: { host: secure.test, trafficPolicy: { tls: { mode: SIMPLE } } }
    `;
    const originated = await load(`${GATEWAY}---\n${entry}---\n${rule}`);
    expect(originated.warnings).toEqual([]);
    expect(originated.config.services.get("secure.test")!.url).toBe("https://secure.test");
  });

  test("a routes.yaml service that sets its own policy takes no DestinationRule", async () => {
    const routes = writeConfig(
      yaml`
        listeners: [{ port: 8080, protocol: HTTP }]
        services:
          web: { url: http://127.0.0.1:1, loadBalancer: { simple: RANDOM } }
      `,
      "routes.yaml",
    );
    const istio = file(yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: web }
      spec:
        host: web.default.svc.cluster.local
        trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
    `);
    expect(await configErrorsAsync(() => loadSources([routes, istio]))).toEqual([
      `${istio}:5: spec.host: service "web" already sets its traffic policy, subsets or tls at ${routes}:3 (services.web); write them in one place`,
    ]);
  });
});
