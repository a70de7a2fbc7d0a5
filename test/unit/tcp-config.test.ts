// TCP / TLS-passthrough listeners and routes, and Istio's ServerTLSSettings in routes.yaml:
// what maps onto the model, every error class with its exact message, the checks provisioning
// adds, route selection, and which adapter takes which listener.
import "reflect-metadata";
import { beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/errors.ts";
import { selectAdapter } from "../../src/listeners/select.ts";
import type { ListenerSpec, TlsPolicy } from "../../src/listeners/_shared/types.ts";
import type { StreamRoutePlan, TcpListenerPlan, TlsPassthroughListenerPlan } from "../../src/provision/plan.ts";
import { provision } from "../../src/provision/provision.ts";
import { passthroughRoute, pickUpstream, streamListenerSpec } from "../../src/tcp/route.ts";
import { compileClientCertCheck, serialKey } from "../../src/tls/client-cert-check.ts";
import { certHash, rogueClient, spkiHash, TestPki, type Pem } from "../helpers/pki.ts";

/** Template tag that drops the first newline and the common indent, so line 1 is the first line. */
function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw(strings, ...values).replace(/^\n/, "");
  const indent = Math.min(...text.split("\n").filter((line) => line.trim()).map((line) => line.search(/\S/)));
  return text
    .split("\n")
    .map((line) => line.slice(indent))
    .join("\n");
}

function errors(text: string): string[] {
  try {
    parseConfig(text, "routes.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split("\n");
  }
  throw new Error("expected a ConfigError");
}

async function provisionErrors(text: string): Promise<string[]> {
  try {
    await provision(parseConfig(text, "routes.yaml"));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split("\n");
  }
  throw new Error("expected a ConfigError");
}

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
      { protocol: "TCP", name: "tcp-echo", address: "0.0.0.0", port: 31400, hosts: ["*"], source: { file, line: 2, path: "listeners[0]" } },
      {
        protocol: "TLS",
        name: "sni",
        address: "0.0.0.0",
        port: 31401,
        servers: [
          { hosts: ["simple-sni-1.istioinaction.io"], mode: "PASSTHROUGH", source: { file, line: 10, path: "listeners[1].servers[0]" } },
          { hosts: ["simple-sni-2.istioinaction.io"], mode: "PASSTHROUGH", source: { file, line: 12, path: "listeners[1].servers[1]" } },
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
        destinations: [{ service: "tcp-echo-service", weight: 1, source: { file, line: 22, path: "routes[0].tcp[0].route[0]" } }],
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

  test("ServerTLSSettings: every field, and the file form as a credential named after the server", () => {
    const config = parseConfig(
      yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls:
                  mode: OPTIONAL_MUTUAL
                  credential: c
                  subjectAltNames: [spiffe://x/a, a.test]
                  verifyCertificateSpki: ["${"A".repeat(43)}="]
                  verifyCertificateHash: ["AB:${"CD:".repeat(30)}EF"]
                  caCrl: crl.pem
                  minProtocolVersion: TLSV1_2
                  maxProtocolVersion: TLSV1_3
                  cipherSuites: [ecdhe-rsa-aes128-gcm-sha256]
              - hosts: [b.test]
                tls: { mode: MUTUAL, serverCertificate: b.crt, privateKey: /k/b.key, caCertificates: ca.pem, minProtocolVersion: TLS_AUTO }
        credentials:
          c: { cert: c.crt, key: c.key, ca: ca.pem }
      `,
      "/etc/portico/routes.yaml",
    );
    const [a, b] = (config.listeners[0] as { servers: unknown[] }).servers as Record<string, unknown>[];
    expect(a).toMatchObject({
      mode: "OPTIONAL_MUTUAL",
      credential: "c",
      subjectAltNames: ["spiffe://x/a", "a.test"],
      verifyCertificateSpki: [`${"A".repeat(43)}=`],
      verifyCertificateHash: [`ab${"cd".repeat(30)}ef`],
      caCrl: "/etc/portico/crl.pem",
      minProtocolVersion: "TLSV1_2",
      maxProtocolVersion: "TLSV1_3",
      cipherSuites: ["ECDHE-RSA-AES128-GCM-SHA256"],
    });
    const name = "/etc/portico/routes.yaml:listeners[0].servers[1].tls";
    expect(b).toMatchObject({ mode: "MUTUAL", credential: name });
    expect(b!.minProtocolVersion).toBeUndefined();
    expect(config.credentials.get(name)).toEqual({
      name,
      cert: "/etc/portico/b.crt",
      key: "/k/b.key",
      ca: "/etc/portico/ca.pem",
      caOptional: false,
      source: { file: "/etc/portico/routes.yaml", line: 17, path: "listeners[0].servers[1].tls" },
    });
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
    ).toEqual(['routes.yaml:7: listeners[0].servers[1].hosts[0]: SNI host "b.test" is already passed through on port 31400 by listeners[0].servers[0]']);
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
      'routes.yaml:3: services.a: expected an http://, https:// or tcp:// URL with a host and no path or query, such as http://127.0.0.1:9080, got "tcp://127.0.0.1" (a tcp:// URL needs a port)',
      "routes.yaml:4: services.b.tls: only allowed with an https:// url",
      'routes.yaml:5: services.c: expected an http://, https:// or tcp:// URL with a host and no path or query, such as http://127.0.0.1:9080, got "udp://127.0.0.1:1"',
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
      "routes.yaml:10: routes[1].tls[0].match[0].sniHosts: required field is missing; expected a non-empty list of SNI names (\"name\", \"*.suffix\" or \"*\")",
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
      'routes.yaml:8: routes[0].tls[1].match[0].sniHosts[0]: SNI host "x.a.test" on port 31400 is already routed by routes[0].tls[0]; only the first route could ever be chosen',
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
    ).toEqual(["routes.yaml:3: routes[0].tcp[0]: tcp routes need a listener with protocol: TCP; there is none"]);
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
    expect(warnings).toEqual([
      'routes.yaml:12: routes[0].tcp[1]: never chosen on listener "t1": routes[0].tcp[0] already takes every connection on port 31400',
      'routes.yaml:4: listeners[2].servers[0]: no tls route for SNI "c.test" on port 31402; such connections will be closed',
      'routes.yaml:6: services.echo: the tls settings of service "echo" do not apply to tcp and tls routes, which forward bytes as they are',
    ]);
  });
});

describe("errors: ServerTLSSettings", () => {
  test("client-certificate fields need MUTUAL or OPTIONAL_MUTUAL", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { credential: c, subjectAltNames: [x], verifyCertificateSpki: ["${"A".repeat(43)}="], verifyCertificateHash: ["${"a".repeat(64)}"], caCrl: crl.pem }
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual(
      ["subjectAltNames", "verifyCertificateSpki", "verifyCertificateHash", "caCrl"].map(
        (f) => `routes.yaml:6: listeners[0].servers[0].tls.${f}: only applies with mode MUTUAL or OPTIONAL_MUTUAL: a SIMPLE server never asks for a client certificate`,
      ),
    );
  });

  test("credential or the file form, not both, and the file form complete", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { credential: c, serverCertificate: a.crt, privateKey: a.key }
              - hosts: [b.test]
                tls: { privateKey: b.key }
              - hosts: [c.test]
                tls: { mode: MUTUAL, serverCertificate: c.crt, privateKey: c.key }
              - hosts: [d.test]
                tls: { credential: c, caCertificates: ca.pem }
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual([
      "routes.yaml:6: listeners[0].servers[0].tls.serverCertificate: credential and serverCertificate/privateKey are alternatives: set one of them",
      "routes.yaml:8: listeners[0].servers[1].tls.serverCertificate: required with privateKey; expected a file path",
      "routes.yaml:10: listeners[0].servers[2].tls.caCertificates: required for mode MUTUAL: the CA bundle that client certificates must chain to",
      "routes.yaml:12: listeners[0].servers[3].tls.caCertificates: goes with serverCertificate and privateKey; a credential brings its own CA (`ca`, or ca.crt in its folder)",
    ]);
  });

  test("OPTIONAL_MUTUAL needs a CA, like MUTUAL", () => {
    expect(
      errors(yaml`
        listeners: [{ port: 8443, protocol: HTTPS, servers: [{ hosts: [a.test], tls: { mode: OPTIONAL_MUTUAL, credential: c } }] }]
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual(['routes.yaml:1: listeners[0].servers[0].tls.mode: mode OPTIONAL_MUTUAL needs a CA to verify client certificates: add `ca` to credential "c"']);
  });

  test("protocol versions: 1.0 and 1.1 refused with the reason, min above max", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { credential: c, minProtocolVersion: TLSV1_0, maxProtocolVersion: TLSV1_1 }
              - hosts: [b.test]
                tls: { credential: c, minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_2 }
              - hosts: [c.test]
                tls: { credential: c, minProtocolVersion: TLS1_3 }
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual([
      "routes.yaml:6: listeners[0].servers[0].tls.minProtocolVersion: TLSV1_0 is not supported: TLS 1.0 and 1.1 are deprecated (RFC 8996) and Portico serves TLS 1.2 and 1.3 only; use TLSV1_2 or TLSV1_3",
      "routes.yaml:6: listeners[0].servers[0].tls.maxProtocolVersion: TLSV1_1 is not supported: TLS 1.0 and 1.1 are deprecated (RFC 8996) and Portico serves TLS 1.2 and 1.3 only; use TLSV1_2 or TLSV1_3",
      "routes.yaml:8: listeners[0].servers[1].tls.minProtocolVersion: TLSV1_3 is above maxProtocolVersion TLSV1_2",
      'routes.yaml:10: listeners[0].servers[2].tls.minProtocolVersion: expected TLS_AUTO or TLSV1_0 or TLSV1_1 or TLSV1_2 or TLSV1_3, got "TLS1_3"; did you mean "TLSV1_3"?',
    ]);
  });

  test("cipherSuites: TLS 1.2 names only, one per entry, not with a TLS 1.3 minimum", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { credential: c, cipherSuites: [TLS_AES_128_GCM_SHA256, "[A|B]", "A:B"] }
              - hosts: [b.test]
                tls: { credential: c, cipherSuites: [AES128-GCM-SHA256], minProtocolVersion: TLSV1_3 }
        credentials: { c: { cert: c.crt, key: c.key } }
      `),
    ).toEqual([
      "routes.yaml:6: listeners[0].servers[0].tls.cipherSuites[0]: TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite; TLS 1.3 suites are not configurable, cipherSuites applies to TLS 1.2 only",
      'routes.yaml:6: listeners[0].servers[0].tls.cipherSuites[1]: equal-preference groups like "[A|B]" are not supported; list one suite per entry',
      'routes.yaml:6: listeners[0].servers[0].tls.cipherSuites[2]: expected one OpenSSL cipher suite name such as ECDHE-RSA-AES128-GCM-SHA256, got "A:B"',
      "routes.yaml:8: listeners[0].servers[1].tls.cipherSuites: cipherSuites apply to TLS 1.2 only, and minProtocolVersion TLSV1_3 rules TLS 1.2 out; remove one of them",
    ]);
  });

  test("pins that are not SHA-256 hashes", () => {
    expect(
      errors(yaml`
        listeners:
          - port: 8443
            protocol: HTTPS
            servers:
              - hosts: [a.test]
                tls: { mode: MUTUAL, credential: c, verifyCertificateSpki: [abc], verifyCertificateHash: ["ab:cd"] }
        credentials: { c: { cert: c.crt, key: c.key, ca: ca.pem } }
      `),
    ).toEqual([
      'routes.yaml:6: listeners[0].servers[0].tls.verifyCertificateSpki[0]: expected the base64 SHA-256 of a SubjectPublicKeyInfo (44 characters, as printed by `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`), got "abc"',
      'routes.yaml:6: listeners[0].servers[0].tls.verifyCertificateHash[0]: expected the hex SHA-256 of a certificate (64 hex digits, colons allowed, as printed by `openssl x509 -noout -fingerprint -sha256`), got "ab:cd"',
    ]);
  });
});

describe("provisioning ServerTLSSettings (per-run certificates)", () => {
  let pki: TestPki;
  let other: TestPki;
  let server: Pem, a: Pem, b: Pem, gone: Pem, rogue: Pem;
  let crl: string, otherCrl: string;

  beforeAll(() => {
    pki = new TestPki();
    other = new TestPki("Other CA");
    server = pki.issue("server", "a.test", ["DNS:a.test"], "serverAuth");
    a = pki.issue("a", "a", ["DNS:a.test", "URI:spiffe://t/a", "email:a@t.test", "IP:10.0.0.1"], "clientAuth");
    b = pki.issue("b", "b", ["DNS:b.test"], "clientAuth");
    gone = pki.issue("gone", "gone", ["DNS:a.test"], "clientAuth");
    rogue = rogueClient(pki.dir);
    crl = pki.crl([gone]);
    otherCrl = other.crl([]);
  });

  const config = (tls: string) => yaml`
    listeners: [{ port: 8443, protocol: HTTPS, servers: [{ hosts: [a.test], tls: { mode: MUTUAL, credential: c, ${tls} } }] }]
    credentials: { c: { cert: ${server.crt}, key: ${server.key}, ca: ${pki.ca.crt} } }
  `;
  const der = (pem: Pem) => new Uint8Array(new X509Certificate(readFileSync(pem.crt)).raw);
  async function checkOf(tls: string) {
    const { plan } = await provision(parseConfig(config(tls), join(pki.dir, "routes.yaml")));
    return plan.listeners[0]!.kind === "https" ? plan.listeners[0]!.servers[0]!.clientCertCheck : undefined;
  }

  test("subjectAltNames match any SAN kind exactly", async () => {
    for (const san of ["a.test", "spiffe://t/a", "a@t.test", "10.0.0.1"]) {
      const check = (await checkOf(`subjectAltNames: ["${san}"]`))!;
      expect(check(der(a))).toBeUndefined();
      expect(check(der(b))).toBe("no subject alternative name of the client certificate (b.test) is among subjectAltNames");
    }
  });

  test("hash or SPKI: a match in either list admits", async () => {
    const check = (await checkOf(`verifyCertificateHash: ["${certHash(a.crt)}"], verifyCertificateSpki: ["${spkiHash(b.crt)}"]`))!;
    expect(check(der(a))).toBeUndefined();
    expect(check(der(b))).toBeUndefined();
    expect(check(der(gone))).toBe("the client certificate matches neither verifyCertificateHash nor verifyCertificateSpki");
  });

  test("caCrl: the revoked certificate is refused, others pass", async () => {
    const check = (await checkOf(`caCrl: ${crl}`))!;
    expect(check(der(a))).toBeUndefined();
    expect(check(der(gone))).toMatch(/^the client certificate \(serial [0-9a-f]+\) is revoked by its issuer's CRL$/);
  });

  test("caCrl from another CA, or not a CRL at all, stops startup", async () => {
    const errs = await provisionErrors(config(`caCrl: ${otherCrl}`));
    expect(errs).toEqual([`routes.yaml:1: listeners[0].servers[0].tls.caCrl: ${otherCrl}: CRL not accepted: its issuer (CN=Other CA) is not a CA of credential "c"; a CRL must be signed by the CA that issues the client certificates`]);
    const notCrl = await provisionErrors(config(`caCrl: ${rogue.crt}`));
    expect(notCrl[0]).toStartWith(`routes.yaml:1: listeners[0].servers[0].tls.caCrl: ${rogue.crt}: no CRL found`);
  });

  test("a cipher suite the runtime does not know stops startup", async () => {
    const errs = await provisionErrors(config("cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, NOT-A-SUITE]"));
    expect(errs[0]).toStartWith("routes.yaml:1: listeners[0].servers[0].tls.cipherSuites: not known to this runtime's TLS library: NOT-A-SUITE; it knows ");
  });

  test("versions and ciphers reach the plan in node:tls terms", async () => {
    const { plan } = await provision(parseConfig(config("minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_3"), "routes.yaml"));
    expect(plan.listeners[0]!.kind === "https" && plan.listeners[0]!.servers[0]).toMatchObject({ minVersion: "TLSv1.3", maxVersion: "TLSv1.3" });
    const withCiphers = await provision(parseConfig(config("cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-GCM-SHA384]"), "routes.yaml"));
    expect(withCiphers.plan.listeners[0]!.kind === "https" && withCiphers.plan.listeners[0]!.servers[0]!.ciphers).toBe("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384");
  });

  test("no check is compiled when nothing beyond the chain is asked", () => {
    expect(compileClientCertCheck({})).toBeUndefined();
    expect(serialKey("00AB01")).toBe("ab01");
    expect(serialKey("00")).toBe("0");
  });
});

describe("route selection", () => {
  const route = (weights: number[]): StreamRoutePlan => ({
    name: "r",
    upstreams: weights.map((weight, i) => ({ service: `s${i}`, host: "127.0.0.1", port: 1000 + i, weight })),
    totalWeight: weights.reduce((a, b) => a + b, 0),
  });

  test("weighted choice, weight 0 never chosen", () => {
    const r = route([1, 0, 3]);
    expect(pickUpstream(r, () => 0)!.service).toBe("s0");
    expect(pickUpstream(r, () => 0.24)!.service).toBe("s0");
    expect(pickUpstream(r, () => 0.25)!.service).toBe("s2");
    expect(pickUpstream(r, () => 0.9999)!.service).toBe("s2");
    expect(pickUpstream(route([0]))).toBeUndefined();
    expect(pickUpstream(route([0, 0]))).toBeUndefined();
  });

  test("passthrough: the Gateway servers gate the SNI, then exact beats wildcard beats *", async () => {
    const { plan } = await provision(
      parseConfig(
        yaml`
          listeners: [{ port: 31400, protocol: TLS, servers: [{ hosts: ["*.a.test", b.test], tls: { mode: PASSTHROUGH } }] }]
          services: { wild: "tcp://127.0.0.1:1", exact: "tcp://127.0.0.1:2", any: "tcp://127.0.0.1:3" }
          routes:
            - hosts: ["*"]
              tls:
                - match: [{ sniHosts: ["*.a.test"] }]
                  route: [{ destination: wild }]
                - match: [{ sniHosts: [x.a.test] }]
                  route: [{ destination: exact }]
                - match: [{ sniHosts: ["*"] }]
                  route: [{ destination: any }]
        `,
        "routes.yaml",
      ),
    );
    const l = plan.streamListeners[0] as TlsPassthroughListenerPlan;
    const to = (sni: string | undefined) => passthroughRoute(l, sni)?.upstreams[0]!.service;
    expect(to("x.a.test")).toBe("exact");
    expect(to("X.A.test")).toBe("exact");
    expect(to("y.a.test")).toBe("wild");
    expect(to("b.test")).toBe("any");
    expect(to("c.test")).toBeUndefined(); // no server lists it
    expect(to(undefined)).toBeUndefined(); // no SNI: only a "*" server would take it
    expect(streamListenerSpec(l).sni).toBe(true);
    expect(streamListenerSpec(l).backend("y.a.test")).toMatchObject({ host: "127.0.0.1", port: 1 });
  });

  test("TCP: the first route for the port, across entries; http(s) services default their ports", async () => {
    const { plan } = await provision(
      parseConfig(
        yaml`
          listeners: [{ port: 31400, protocol: TCP }]
          services: { web: "http://web.internal", secure: "https://[::1]" }
          routes:
            - hosts: ["*"]
              tcp: [{ match: [{ port: 31400 }], route: [{ destination: web }, { destination: secure }] }]
        `,
        "routes.yaml",
      ),
    );
    const l = plan.streamListeners[0] as TcpListenerPlan;
    expect(l.route!.upstreams.map((u) => [u.host, u.port])).toEqual([
      ["web.internal", 80],
      ["::1", 443],
    ]);
    expect(streamListenerSpec(l).sni).toBe(false);
  });
});

describe("adapter selection", () => {
  const policy = (extra: Partial<TlsPolicy>): TlsPolicy => ({ hosts: ["a.test"], certPem: "", keyPem: "", requireClientCert: false, ...extra });
  const spec = (p: TlsPolicy): ListenerSpec => ({
    kind: "http",
    name: "l",
    address: "127.0.0.1",
    port: 1,
    tls: { policies: [p], selectPolicy: () => 0, defaultPolicy: 0, minVersion: "TLSv1.2" },
    handler: () => new Response(),
  });

  test("TCP listeners: node-tcp on every runtime, whatever --adapter says", () => {
    const s: ListenerSpec = { kind: "stream", name: "t", address: "127.0.0.1", port: 1, sni: false, backend: () => undefined };
    for (const rt of ["bun", "deno", "node"] as const) expect(selectAdapter(s, rt, "bun-serve").name).toBe("node-tcp");
  });

  test("Bun.serve never takes OPTIONAL_MUTUAL, client-certificate checks, versions or ciphers", () => {
    expect(selectAdapter(spec(policy({})), "bun").name).toBe("bun-serve");
    for (const extra of [{ requestClientCert: true }, { checkClientCert: () => undefined }, { minVersion: "TLSv1.3" as const }, { ciphers: "AES128-GCM-SHA256" }]) {
      expect(selectAdapter(spec(policy(extra)), "bun").name).toBe("bun-sni");
      expect(selectAdapter(spec(policy(extra)), "node").name).toBe("node-http2");
    }
  });

  test("cipherSuites on Deno: refused at startup, with where it works", () => {
    expect(() => selectAdapter(spec(policy({ ciphers: "AES128-GCM-SHA256" })), "deno")).toThrow(
      'listener "l" needs TLS 1.2 cipher suites per server (cipherSuites), which no adapter on deno can honour; use bun-sni (bun) or node-http2 (bun, node)',
    );
    expect(selectAdapter(spec(policy({ minVersion: "TLSv1.3", requestClientCert: true })), "deno").name).toBe("node-http2-pipe");
  });
});
