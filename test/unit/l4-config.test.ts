// TCP / TLS-passthrough listeners and routes in routes.yaml: what maps onto the model, every
// error with its exact message, and the checks provisioning adds.
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { formatIssue } from "../../src/util/errors.ts";
import { provision } from "../../src/provision/provision.ts";
import { yaml } from "../helpers/yaml.ts";
import { provisionErrors, routesYamlErrors as errors } from "../helpers/config-errors.ts";

// The book's gateway-tcp.yaml + echo-vs.yaml and passthrough-sni-gateway-both.yaml +
// passthrough-sni-vs-{1,2}.yaml, natively.
const BOOK_L4 = yaml`
  listeners:
    - name: tcp-echo
      port: 31400
      protocol: TCP
      hosts: ["*"]
    - name: sni
      port: 31401
      protocol: TLS
      servers:
        - hosts: [simple-sni-1.istioinaction.io]
          tls: { mode: PASSTHROUGH }
        - hosts: [Simple-SNI-2.istioinaction.io]
          tls: { mode: PASSTHROUGH }
  services:
    tcp-echo-service: tcp://127.0.0.1:2701
    simple-tls-service-1: tcp://127.0.0.1:8081
    simple-tls-service-2: https://[::1]
  routes:
    - hosts: ["*"]
      tcp:
        - match: [{ port: 31400 }]
          route: [{ destination: tcp-echo-service }]
    - hosts: [simple-sni-1.istioinaction.io]
      tls:
        - match: [{ port: 31401, sniHosts: [simple-sni-1.istioinaction.io] }]
          route: [{ destination: simple-tls-service-1 }]
    - hosts: ["*.istioinaction.io"]
      tls:
        - match: [{ sniHosts: [simple-sni-2.istioinaction.io] }]
          route:
            - { destination: simple-tls-service-2, weight: 80 }
            - { destination: simple-tls-service-1, weight: 20 }
`;

describe("routes.yaml → model", () => {
  test("TCP and TLS listeners, tcp and tls routes, tcp:// services", () => {
    const config = parseConfig(BOOK_L4, "/etc/portico/routes.yaml");
    const file = "/etc/portico/routes.yaml";
    expect(config.listeners).toEqual([
      {
        protocol: "TCP",
        name: "tcp-echo",
        address: "0.0.0.0",
        port: 31400,
        hosts: ["*"],
        source: { file, line: 2, path: "listeners[0]" },
      },
      {
        protocol: "TLS",
        name: "sni",
        address: "0.0.0.0",
        port: 31401,
        servers: [
          {
            hosts: ["simple-sni-1.istioinaction.io"],
            mode: "PASSTHROUGH",
            source: { file, line: 10, path: "listeners[1].servers[0]" },
          },
          {
            hosts: ["simple-sni-2.istioinaction.io"],
            mode: "PASSTHROUGH",
            source: { file, line: 12, path: "listeners[1].servers[1]" },
          },
        ],
        source: { file, line: 6, path: "listeners[1]" },
      },
    ]);
    expect(config.services.get("tcp-echo-service")!.url).toBe("tcp://127.0.0.1:2701");
    expect(config.services.get("simple-tls-service-2")!.url).toBe("https://[::1]");
    const [tcpEntry, tls1, tls2] = config.routes;
    expect(tcpEntry!.http).toEqual([]);
    expect(tcpEntry!.tcp).toEqual([
      {
        match: [{ port: 31400 }],
        destinations: [
          {
            service: "tcp-echo-service",
            weight: 1,
            source: { file, line: 22, path: "routes[0].tcp[0].route[0]" },
          },
        ],
        source: { file, line: 21, path: "routes[0].tcp[0]" },
      },
    ]);
    expect(tls1!.tls![0]!.match).toEqual([{ port: 31401, sniHosts: ["simple-sni-1.istioinaction.io"] }]);
    expect(tls2!.tls![0]!.match).toEqual([{ sniHosts: ["simple-sni-2.istioinaction.io"] }]);
    expect(tls2!.tls![0]!.destinations.map((d) => [d.service, d.weight])).toEqual([
      ["simple-tls-service-2", 80],
      ["simple-tls-service-1", 20],
    ]);
  });

  test("a host may have HTTP routes and also appear in tcp/tls entries", () => {
    const config = parseConfig(
      yaml`
        listeners: [{ port: 80, protocol: HTTP }, { port: 31400, protocol: TCP }]
        services: { web: "http://127.0.0.1:9080", echo: "tcp://127.0.0.1:2701" }
        routes:
          - hosts: ["*"]
            http: [{ route: [{ destination: web }] }]
          - hosts: ["*"]
            tcp: [{ route: [{ destination: echo }] }]
      `,
      "routes.yaml",
    );
    expect(config.routes[1]!.tcp![0]!.match).toEqual([]);
  });
});

describe("errors: TCP and TLS passthrough", () => {
  test("a TLS listener passes through: mode PASSTHROUGH and nothing else", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 31400
            protocol: TLS
            servers:
              - hosts: [a.test]
                tls: { mode: SIMPLE, credential: c }
              - hosts: [b.test]
                tls: { mode: PASSTHROUGH, credential: c }
          - port: 31401
            protocol: TLS
            hosts: [c.test]
      `),
    ).toEqual([
      "routes.yaml:6: listeners[0].servers[0].tls.mode: a TLS listener hands connections on untouched: expected mode PASSTHROUGH, got SIMPLE (terminating TLS in front of tcp routes is not supported; use an HTTPS listener for HTTP)",
      "routes.yaml:8: listeners[0].servers[1].tls.credential: only mode applies to a PASSTHROUGH server: the backend terminates TLS with its own certificate",
      "routes.yaml:9: listeners[1].servers: required for a TLS listener; expected a non-empty list of servers, each with hosts and tls",
      "routes.yaml:11: listeners[1].hosts: only allowed on HTTP and TCP listeners; a TLS listener lists hosts under servers",
    ]);
  });

  test("PASSTHROUGH on an HTTPS listener, servers on a TCP listener", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers: [{ hosts: [a.test], tls: { mode: PASSTHROUGH } }]
          - port: 31400
            protocol: TCP
            servers: [{ hosts: [a.test], tls: { mode: PASSTHROUGH } }]
            httpsRedirect: true
      `),
    ).toEqual([
      "routes.yaml:4: listeners[0].servers[0].tls.mode: PASSTHROUGH belongs on a TLS listener (protocol: TLS); an HTTPS listener terminates TLS: use SIMPLE, MUTUAL or OPTIONAL_MUTUAL",
      "routes.yaml:4: listeners[0].servers[0].tls.credential: required field is missing; expected the name of an entry in credentials (or serverCertificate and privateKey)",
      "routes.yaml:7: listeners[1].servers: only allowed on HTTPS and TLS listeners; a TCP listener lists its hosts under hosts",
      "routes.yaml:8: listeners[1].httpsRedirect: only allowed on HTTP listeners",
    ]);
  });

  test("the same SNI host twice on a passthrough port", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 31400
            protocol: TLS
            servers:
              - hosts: [a.test, b.test]
                tls: { mode: PASSTHROUGH }
              - hosts: [B.test]
                tls: { mode: PASSTHROUGH }
      `),
    ).toEqual([
      'routes.yaml:7: listeners[0].servers[1].hosts[0]: SNI host "b.test" is already passed through on port 31400 by listeners[0].servers[0]',
    ]);
  });

  test("a tcp:// service needs a port; tls only with https", () => {
    expect(
      errors(yaml`
        listeners: [{ port: 31400, protocol: TCP }]
        services:
          a: tcp://127.0.0.1
          b: { url: "tcp://127.0.0.1:1", tls: { ca: ca.pem } }
          c: udp://127.0.0.1:1
      `),
    ).toEqual([
      'routes.yaml:3: services.a: expected an http://, https://, h2c://, h2:// or tcp:// URL with a host and no path or query, such as http://127.0.0.1:9080, got "tcp://127.0.0.1" (a tcp:// URL needs a port)',
      "routes.yaml:4: services.b.tls: only allowed with an https:// or h2:// url",
      'routes.yaml:5: services.c: expected an http://, https://, h2c://, h2:// or tcp:// URL with a host and no path or query, such as http://127.0.0.1:9080, got "udp://127.0.0.1:1"',
    ]);
  });

  test("route shapes: a port range, a tls route without sniHosts, an entry with no routes at all", () => {
    expect(
      errors(yaml`
        listeners: [{ port: 31400, protocol: TCP }]
        services: { echo: "tcp://127.0.0.1:2701" }
        routes:
          - hosts: ["*"]
            tcp:
              - match: [{ port: 0 }, { sourceLabels: { app: a } }]
                route: [{ destination: echo }]
          - hosts: [a.test]
            tls:
              - match: [{ port: 31400 }]
                route: [{ destination: echo }]
          - hosts: [b.test]
      `),
    ).toEqual([
      "routes.yaml:6: routes[0].tcp[0].match[0].port: expected an integer 1..65535, got 0",
      'routes.yaml:6: routes[0].tcp[0].match[1].sourceLabels: unknown field "sourceLabels"; expected one of: port',
      'routes.yaml:10: routes[1].tls[0].match[0].sniHosts: required field is missing; expected a non-empty list of SNI names ("name", "*.suffix" or "*")',
      "routes.yaml:12: routes[2].http: required field is missing; expected a non-empty list of HTTP routes (or tcp, or tls routes)",
    ]);
  });

  test("unknown service, sniHosts outside the entry's hosts, an SNI routed twice", () => {
    expect(
      errors(yaml`
        listeners: [{ port: 31400, protocol: TLS, servers: [{ hosts: ["*"], tls: { mode: PASSTHROUGH } }] }]
        services: { one: "tcp://127.0.0.1:1" }
        routes:
          - hosts: ["*.a.test"]
            tls:
              - match: [{ sniHosts: [x.a.test, "*.b.a.test", a.test] }]
                route: [{ destination: onee }]
              - match: [{ port: 31400, sniHosts: [x.a.test] }]
                route: [{ destination: one }]
      `),
    ).toEqual([
      'routes.yaml:6: routes[0].tls[0].match[0].sniHosts[2]: "a.test" is not among this entry\'s hosts (*.a.test); add it to hosts or fix the name',
      'routes.yaml:7: routes[0].tls[0].route[0].destination: unknown service "onee"; did you mean "one"?',
      'routes.yaml:8: routes[0].tls[1].match[0].sniHosts[0]: SNI host "x.a.test" on port 31400 is already routed by routes.yaml:6 (routes[0].tls[0]); only the first route could ever be chosen',
    ]);
  });

  test("an HTTP route cannot use a tcp:// service", () => {
    expect(
      errors(yaml`
        listeners: [{ port: 80, protocol: HTTP }]
        services: { echo: "tcp://127.0.0.1:2701" }
        routes: [{ hosts: ["*"], http: [{ route: [{ destination: echo }] }] }]
      `),
    ).toEqual([
      'routes.yaml:3: routes[0].http[0].route[0].destination: service "echo" is tcp://127.0.0.1:2701, which only tcp and tls routes can use; an HTTP route needs an http:// or https:// service',
    ]);
  });
});

describe("provisioning errors: routes that reach no listener", () => {
  test("tcp routes without a TCP listener, or on a port no TCP listener has", async () => {
    expect(
      await provisionErrors(yaml`
        listeners: [{ port: 80, protocol: HTTP }]
        services: { echo: "tcp://127.0.0.1:2701" }
        routes: [{ hosts: ["*"], tcp: [{ match: [{ port: 31400 }], route: [{ destination: echo }] }] }]
      `),
    ).toEqual([
      "routes.yaml:3: routes[0].tcp[0]: tcp routes need a listener with protocol: TCP; there is none",
    ]);
    expect(
      await provisionErrors(yaml`
        listeners: [{ port: 31400, protocol: TCP }, { port: 31401, protocol: TCP }]
        services: { echo: "tcp://127.0.0.1:2701" }
        routes: [{ hosts: ["*"], tcp: [{ match: [{ port: 31400 }, { port: 31500 }], route: [{ destination: echo }] }] }]
      `),
    ).toEqual([
      "routes.yaml:3: routes[0].tcp[0].match[1].port: no TCP listener on port 31500 (TCP listeners: 31400, 31401); add a listener with protocol: TCP and port: 31500, or fix the port",
    ]);
  });

  test("a tls route for an SNI no PASSTHROUGH server on its port lists", async () => {
    expect(
      await provisionErrors(yaml`
        listeners: [{ name: sni, port: 31400, protocol: TLS, servers: [{ hosts: [a.test], tls: { mode: PASSTHROUGH } }] }]
        services: { one: "tcp://127.0.0.1:1" }
        routes:
          - hosts: [b.test]
            tls: [{ match: [{ port: 31400, sniHosts: [b.test] }], route: [{ destination: one }] }]
      `),
    ).toEqual([
      'routes.yaml:5: routes[0].tls[0].match[0].sniHosts[0]: "b.test" is routed on port 31400, but no PASSTHROUGH server of listener "sni" lists it; add it to a server\'s hosts',
    ]);
  });

  test("warnings: a listener without routes, an unreachable route, service tls that does not apply", async () => {
    const { warnings } = await provision(
      parseConfig(
        yaml`
          listeners:
            - { name: t1, port: 31400, protocol: TCP }
            - { name: t2, port: 31401, protocol: TCP }
            - { name: sni, port: 31402, protocol: TLS, servers: [{ hosts: [a.test, c.test], tls: { mode: PASSTHROUGH } }] }
          services:
            echo: { url: "https://127.0.0.1:2701", tls: { serverName: x } }
          routes:
            - hosts: ["*"]
              tcp:
                - match: [{ port: 31400 }]
                  route: [{ destination: echo }]
                - route: [{ destination: echo }]
            - hosts: [a.test]
              tls: [{ match: [{ sniHosts: [a.test] }], route: [{ destination: echo }] }]
        `,
        "routes.yaml",
      ),
    );
    expect(warnings.map(formatIssue)).toEqual([
      'routes.yaml:12: routes[0].tcp[1]: never chosen on listener "t1": routes[0].tcp[0] already takes every connection on port 31400',
      'routes.yaml:4: listeners[2].servers[0]: no tls route for SNI "c.test" on port 31402; such connections will be closed',
      'routes.yaml:6: services.echo: the tls settings of service "echo" do not apply to tcp and tls routes, which forward bytes as they are',
    ]);
  });
});
