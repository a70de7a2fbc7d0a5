// The Istio loader for what routes.yaml can say beyond HTTP: Gateway servers with protocol TCP
// and TLS (PASSTHROUGH), a VirtualService's tcp and tls routes, and an HTTPS server's
// ServerTLSSettings. The book's files load unchanged; every error class has its exact message
// with file, line and field.
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadSources, type ConfigFileOptions as SourceOptions } from "../../src/cli/config-files.ts";
import { formatIssue } from "../../src/util/errors.ts";
import { provision } from "../../src/provision/provision.ts";
import type { TcpListenerPlan, TlsPassthroughListenerPlan } from "../../src/provision/plan.ts";
import { yaml } from "../helpers/yaml.ts";
import { configErrorsAsync, provisionErrors } from "../helpers/config-errors.ts";
import { BOOK } from "../helpers/book.ts";
import { writeConfig } from "../helpers/portico.ts";

const SNI = join(BOOK, "sni");

/** Writes `text` to a fresh folder; returns the file's path. */
const file = (text: string, name = "istio.yaml") => writeConfig(text, name);

/** The issues of loading `paths` as the CLI does. */
const errors = (paths: string[], opts: SourceOptions = {}) =>
  configErrorsAsync(() => loadSources(paths, opts));

const services = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe("the book's TCP and SNI passthrough files → model", () => {
  test("gateway-tcp.yaml + echo-vs.yaml: a TCP listener on the mapped port, a tcp route whose match port is mapped too", async () => {
    const gw = join(BOOK, "gateway-tcp.yaml");
    const vs = join(BOOK, "echo-vs.yaml");
    const config = await loadSources([gw, vs], {
      services: services({ "tcp-echo-service": "tcp://127.0.0.1:2701" }),
      portMap: new Map([[31400, 8431]]),
      bindAddress: "127.0.0.1",
    });
    expect(config.listeners).toEqual([
      {
        protocol: "TCP",
        name: "echo-tcp-gateway-31400",
        address: "127.0.0.1",
        port: 8431,
        hosts: ["*"],
        source: { file: gw, line: 9, path: "spec.servers[0]" },
      },
    ]);
    expect(config.services.get("tcp-echo-service")!.url).toBe("tcp://127.0.0.1:2701");
    expect(config.routes).toEqual([
      {
        hosts: ["*"],
        listeners: ["echo-tcp-gateway-31400"],
        http: [],
        tcp: [
          {
            match: [{ port: 8431 }],
            destinations: [
              {
                service: "tcp-echo-service",
                weight: 1,
                source: { file: vs, line: 14, path: "spec.tcp[0].route[0]" },
              },
            ],
            source: { file: vs, line: 11, path: "spec.tcp[0]" },
          },
        ],
        source: { file: vs, line: 5, path: "spec" },
      },
    ]);
    const { plan } = await provision(config);
    const tcp = plan.streamListeners[0] as TcpListenerPlan;
    expect(tcp.route!.upstreams).toEqual([
      { service: "tcp-echo-service", host: "127.0.0.1", port: 2701, weight: 1 },
    ]);
  });

  test("without --port the book's port stays, and a tcp route for a port no TCP server has is refused at provisioning", async () => {
    const config = await loadSources([join(BOOK, "gateway-tcp.yaml"), join(BOOK, "echo-vs.yaml")], {
      services: services({ "tcp-echo-service": "tcp://127.0.0.1:2701" }),
      // The Gateway's port is mapped, but imagine the VirtualService named another port:
      portMap: new Map([[31401, 9999]]),
    });
    expect(config.listeners[0]!.port).toBe(31400);
    expect(config.routes[0]!.tcp![0]!.match).toEqual([{ port: 31400 }]);

    const other = file(yaml`
      apiVersion: networking.istio.io/v1alpha3
      kind: VirtualService
      metadata:
        name: wrong-port
      spec:
        hosts: ["*"]
        gateways: [echo-tcp-gateway]
        tcp:
        - match:
          - port: 31401
          route:
          - destination: { host: tcp-echo-service }
    `);
    const wrong = await loadSources([join(BOOK, "gateway-tcp.yaml"), other], {
      services: services({ "tcp-echo-service": "tcp://127.0.0.1:2701" }),
      portMap: new Map([[31400, 8431]]),
    });
    expect(await provisionErrors(wrong)).toEqual([
      `${other}:9: spec.tcp[0].match[0].port: no TCP listener on port 31401 (TCP listeners: 8431); add a listener with protocol: TCP and port: 31401, or fix the port`,
    ]);
  });

  test("sni/passthrough-sni-gateway-both.yaml + vs-1 + vs-2: one TLS listener, two PASSTHROUGH servers, a tls route per name", async () => {
    const gw = join(SNI, "passthrough-sni-gateway-both.yaml");
    const config = await loadSources(
      [gw, join(SNI, "passthrough-sni-vs-1.yaml"), join(SNI, "passthrough-sni-vs-2.yaml")],
      {
        services: services({
          "simple-tls-service-1": "tcp://127.0.0.1:8081",
          "simple-tls-service-2": "https://127.0.0.1:8082",
        }),
        portMap: new Map([[31400, 8431]]),
      },
    );
    expect(config.listeners).toEqual([
      {
        protocol: "TLS",
        name: "sni-passthrough-gateway-31400",
        address: "0.0.0.0",
        port: 8431,
        servers: [
          {
            hosts: ["simple-sni-1.istioinaction.io"],
            mode: "PASSTHROUGH",
            source: { file: gw, line: 9, path: "spec.servers[0]" },
          },
          {
            hosts: ["simple-sni-2.istioinaction.io"],
            mode: "PASSTHROUGH",
            source: { file: gw, line: 17, path: "spec.servers[1]" },
          },
        ],
        source: { file: gw, line: 9, path: "spec.servers[0]" },
      },
    ]);
    expect(
      config.routes.map((r) => [
        r.hosts,
        r.listeners,
        r.tls!.map((t) => [t.match, t.destinations.map((d) => d.service)]),
      ]),
    ).toEqual([
      [
        ["simple-sni-1.istioinaction.io"],
        ["sni-passthrough-gateway-31400"],
        [[[{ port: 8431, sniHosts: ["simple-sni-1.istioinaction.io"] }], ["simple-tls-service-1"]]],
      ],
      [
        ["simple-sni-2.istioinaction.io"],
        ["sni-passthrough-gateway-31400"],
        [[[{ port: 8431, sniHosts: ["simple-sni-2.istioinaction.io"] }], ["simple-tls-service-2"]]],
      ],
    ]);
    const { plan, warnings } = await provision(config);
    expect(warnings).toEqual([]);
    const tls = plan.streamListeners[0] as TlsPassthroughListenerPlan;
    expect(tls.routeBySni.match("simple-sni-1.istioinaction.io")!.upstreams).toEqual([
      { service: "simple-tls-service-1", host: "127.0.0.1", port: 8081, weight: 1 },
    ]);
    expect(tls.routeBySni.match("simple-sni-2.istioinaction.io")!.upstreams).toEqual([
      { service: "simple-tls-service-2", host: "127.0.0.1", port: 8082, weight: 1 },
    ]);
    expect(tls.routeBySni.match("simple-sni-3.istioinaction.io")).toBeUndefined();
  });

  test("sni/passthrough-sni-gateway.yaml (one name) + vs-1; vs-2 names a host that Gateway does not pass through", async () => {
    const opts = {
      services: services({
        "simple-tls-service-1": "tcp://127.0.0.1:8081",
        "simple-tls-service-2": "tcp://127.0.0.1:8082",
      }),
    };
    const one = await loadSources(
      [join(SNI, "passthrough-sni-gateway.yaml"), join(SNI, "passthrough-sni-vs-1.yaml")],
      opts,
    );
    expect((one.listeners[0] as { servers: unknown[] }).servers).toHaveLength(1);
    await provision(one);
    const both = await loadSources(
      [
        join(SNI, "passthrough-sni-gateway.yaml"),
        join(SNI, "passthrough-sni-vs-1.yaml"),
        join(SNI, "passthrough-sni-vs-2.yaml"),
      ],
      opts,
    );
    expect(await provisionErrors(both)).toEqual([
      `${join(SNI, "passthrough-sni-vs-2.yaml")}:11: spec.tls[0].match[0].sniHosts[0]: "simple-sni-2.istioinaction.io" is routed on port 31400, but no PASSTHROUGH server of listener "sni-passthrough-gateway-31400" lists it; add it to a server's hosts`,
    ]);
  });

  test("sni/simple-tls-service-{1,2}.yaml: Services and Deployments are ignored with a notice, their Secrets read", async () => {
    const notices: string[] = [];
    const svc1 = join(SNI, "simple-tls-service-1.yaml");
    const svc2 = join(SNI, "simple-tls-service-2.yaml");
    await loadSources(
      [
        join(SNI, "passthrough-sni-gateway-both.yaml"),
        join(SNI, "passthrough-sni-vs-1.yaml"),
        join(SNI, "passthrough-sni-vs-2.yaml"),
        svc1,
        svc2,
      ],
      {
        services: services({
          "simple-tls-service-1": "tcp://127.0.0.1:8081",
          "simple-tls-service-2": "tcp://127.0.0.1:8082",
        }),
        warn: (issue) => notices.push(formatIssue(issue)),
      },
    );
    expect(notices).toEqual([
      `${svc1}:2: Service "simple-tls-service-1" ignored (only Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and Secret are read)`,
      `${svc1}:17: Deployment "simple-tls-service-1" ignored (only Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and Secret are read)`,
      `${svc2}:2: Service "simple-tls-service-2" ignored (only Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and Secret are read)`,
      `${svc2}:17: Deployment "simple-tls-service-2" ignored (only Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and Secret are read)`,
    ]);
  });

  test("tcp and tls routes: weights, Istio host names, and --service tcp:// URLs", async () => {
    const gw = file(yaml`
      apiVersion: networking.istio.io/v1beta1
      kind: Gateway
      metadata: { name: l4 }
      spec:
        servers:
        - port: { number: 31400, name: tcp, protocol: TCP }
          hosts: ["*"]
        - port: { number: 443, name: tls, protocol: tls }
          hosts: ["*.example.test"]
          tls: { mode: PASSTHROUGH }
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: VirtualService
      metadata: { name: l4 }
      spec:
        hosts: ["*.example.test"]
        gateways: [l4]
        tcp:
        - route:
          - destination: { host: a.default.svc.cluster.local, port: { number: 1 } }
            weight: 90
          - destination: { host: b }
            weight: 10
        tls:
        - match:
          - sniHosts: [x.example.test]
          - sniHosts: [y.example.test]
            port: 443
          route:
          - destination: { host: a }
          - destination: { host: b }
    `);
    const config = await loadSources([gw], {
      services: services({ a: "tcp://127.0.0.1:1", b: "tcp://[::1]:2" }),
      portMap: new Map([[443, 8443]]),
    });
    const vh = config.routes[0]!;
    expect(vh.tcp![0]!.match).toEqual([]);
    expect(vh.tcp![0]!.destinations.map((d) => [d.service, d.weight])).toEqual([
      ["a", 90],
      ["b", 10],
    ]);
    expect(vh.tls![0]!.match).toEqual([
      { sniHosts: ["x.example.test"] },
      { sniHosts: ["y.example.test"], port: 8443 },
    ]);
    expect(vh.tls![0]!.destinations.map((d) => [d.service, d.weight])).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    expect(config.services.get("b")!.url).toBe("tcp://[::1]:2");
  });

  test("an HTTP route's match.port is mapped like the Gateway's port", async () => {
    const gw = file(yaml`
      apiVersion: networking.istio.io/v1beta1
      kind: Gateway
      metadata: { name: web }
      spec:
        servers:
        - port: { number: 80, name: http, protocol: HTTP }
          hosts: ["*"]
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: VirtualService
      metadata: { name: web }
      spec:
        hosts: ["*"]
        gateways: [web]
        http:
        - match: [{ port: 80 }]
          route: [{ destination: { host: web } }]
    `);
    const config = await loadSources([gw], {
      services: services({ web: "http://127.0.0.1:9080" }),
      portMap: new Map([[80, 8080]]),
    });
    expect(config.routes[0]!.http[0]!.match[0]!.port).toBe(8080);
  });
});

describe("ServerTLSSettings of an HTTPS server → model", () => {
  test("every field; the file form becomes a credential named after file, Gateway and server, paths relative to the file", async () => {
    const gw = file(
      yaml`
      apiVersion: networking.istio.io/v1beta1
      kind: Gateway
      metadata: { name: partner }
      spec:
        servers:
        - port: { number: 443, name: https, protocol: HTTPS }
          hosts: [partner.example.test]
          tls:
            mode: OPTIONAL_MUTUAL
            serverCertificate: certs/server.crt
            privateKey: certs/server.key
            caCertificates: ../ca/clients.pem
            subjectAltNames: [spiffe://example.test/partner, partner.example.test]
            verifyCertificateSpki: ["Tj4cr0IaY7Cx6yVZgqCEXWB9Nhb/FkXvCbEcl3XcSFg="]
            verifyCertificateHash: ["8A:7C:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:E1"]
            caCrl: partner-ca.crl
            minProtocolVersion: TLSV1_2
            maxProtocolVersion: TLS_AUTO
            cipherSuites: [ecdhe-rsa-aes256-gcm-sha384]
        - port: { number: 443, name: https-2, protocol: HTTPS }
          hosts: [other.example.test]
          tls: { mode: MUTUAL, credentialName: partner-cred, minProtocolVersion: TLSV1_3 }
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: Gateway
      metadata: { name: second }
      spec:
        servers:
        - port: { number: 8443, name: https, protocol: HTTPS }
          hosts: [second.example.test]
          tls: { serverCertificate: /abs/s.crt, privateKey: /abs/s.key }
      ---
      apiVersion: v1
      kind: Secret
      metadata: { name: partner-cred }
      stringData: { tls.crt: CERT, tls.key: KEY, ca.crt: CA }
    `,
      "gateways.yaml",
    );
    const dir = join(gw, "..");
    const config = await loadSources([gw]);
    const [https, second] = config.listeners as { servers: unknown[] }[];
    const name = `${gw}:partner.spec.servers[0].tls`;
    expect(https!.servers).toEqual([
      {
        hosts: ["partner.example.test"],
        mode: "OPTIONAL_MUTUAL",
        credential: name,
        subjectAltNames: ["spiffe://example.test/partner", "partner.example.test"],
        verifyCertificateSpki: ["Tj4cr0IaY7Cx6yVZgqCEXWB9Nhb/FkXvCbEcl3XcSFg="],
        verifyCertificateHash: ["8a7c0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1de1"],
        caCrl: join(dir, "partner-ca.crl"),
        minProtocolVersion: "TLSV1_2",
        cipherSuites: ["ECDHE-RSA-AES256-GCM-SHA384"],
        source: { file: gw, line: 6, path: "spec.servers[0]" },
      },
      {
        hosts: ["other.example.test"],
        mode: "MUTUAL",
        credential: "partner-cred",
        minProtocolVersion: "TLSV1_3",
        source: { file: gw, line: 20, path: "spec.servers[1]" },
      },
    ]);
    expect(config.credentials.get(name)).toEqual({
      name,
      cert: join(dir, "certs/server.crt"),
      key: join(dir, "certs/server.key"),
      ca: join(dir, "../ca/clients.pem"),
      caOptional: false,
      source: { file: gw, line: 8, path: "spec.servers[0].tls" },
    });
    // Another Gateway's servers[0] in the same file: its own credential.
    const secondName = `${gw}:second.spec.servers[0].tls`;
    expect((second!.servers[0] as { credential: string }).credential).toBe(secondName);
    expect(config.credentials.get(secondName)!.cert).toBe("/abs/s.crt");
    expect([...config.credentials.keys()].sort()).toEqual([name, "partner-cred", secondName].sort());
  });
});

describe("errors name file, line and field", () => {
  const gateway = (servers: string) =>
    file(
      yaml`
        apiVersion: networking.istio.io/v1beta1
        kind: Gateway
        metadata: { name: gw }
        spec:
          servers:
      ` + servers.replace(/^\n/, ""),
    );

  test("credentialNames, tlsCertificates and caCertCredentialName are refused with the reason", async () => {
    const gw = gateway(`
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: [a.test]
    tls:
      credentialNames: [rsa, ecdsa]
      tlsCertificates: []
      caCertCredentialName: ca
`);
    expect(await errors([gw])).toEqual([
      `${gw}:9: spec.servers[0].tls.credentialNames: field "credentialNames" is not supported by Portico: several certificates per server (RSA and ECDSA, say) are not supported; give one with credentialName`,
      `${gw}:10: spec.servers[0].tls.tlsCertificates: field "tlsCertificates" is not supported by Portico: several certificates per server are not supported; give one with credentialName, or serverCertificate and privateKey`,
      `${gw}:11: spec.servers[0].tls.caCertCredentialName: field "caCertCredentialName" is not supported by Portico: put the CA in the credentialName Secret (ca.crt or cacert), in a Secret named <credentialName>-cacert, or in ca.crt of the credential folder`,
    ]);
  });

  test("a TLS server: SIMPLE (terminate, then TCP) is not supported; PASSTHROUGH takes no other field; tls and mode are required", async () => {
    const gw = gateway(`
  - port: { number: 443, name: a, protocol: TLS }
    hosts: [a.test]
    tls: { mode: SIMPLE, credentialName: a }
  - port: { number: 443, name: b, protocol: TLS }
    hosts: [b.test]
    tls: { mode: PASSTHROUGH, subjectAltNames: [x] }
  - port: { number: 443, name: c, protocol: TLS }
    hosts: [c.test]
  - port: { number: 443, name: d, protocol: TLS }
    hosts: [d.test]
    tls: {}
  - port: { number: 443, name: e, protocol: TLS }
    hosts: [e.test]
    tls: { mode: AUTO_PASSTHROUGH }
  - port: { number: 443, name: f, protocol: TLS }
    hosts: [f.test]
    tls: { mode: passthrough }
`);
    expect(await errors([gw])).toEqual([
      `${gw}:8: spec.servers[0].tls.mode: expected PASSTHROUGH, got SIMPLE: mode SIMPLE on a TLS server terminates TLS and forwards the decrypted bytes to tcp routes, which Portico does not support; use PASSTHROUGH (the backend terminates TLS), or protocol HTTPS to terminate TLS in front of http routes`,
      `${gw}:11: spec.servers[1].tls.subjectAltNames: only mode applies to a PASSTHROUGH server: the backend terminates TLS with its own certificate`,
      `${gw}:12: spec.servers[2].tls: a TLS server needs tls with mode: PASSTHROUGH (the backend terminates TLS with its own certificate)`,
      `${gw}:16: spec.servers[3].tls.mode: required field is missing; expected PASSTHROUGH: the backend terminates TLS with its own certificate`,
      `${gw}:19: spec.servers[4].tls.mode: not supported by Portico: AUTO_PASSTHROUGH forwards by the SNI names Istio gives mesh services (outbound_.PORT_._.HOST) between clusters; Portico has no mesh: use PASSTHROUGH with tls routes`,
      `${gw}:22: spec.servers[5].tls.mode: expected SIMPLE or MUTUAL or OPTIONAL_MUTUAL or PASSTHROUGH or AUTO_PASSTHROUGH or ISTIO_MUTUAL, got "passthrough"; did you mean "PASSTHROUGH"?`,
    ]);
  });

  test("a TCP server takes no tls; HTTPS and TLS servers cannot share a port; a name is passed through once per port", async () => {
    const gw = gateway(`
  - port: { number: 31400, name: tcp, protocol: TCP }
    hosts: ["*"]
    tls: { mode: PASSTHROUGH }
  - port: { number: 443, name: tls, protocol: TLS }
    hosts: [a.test, b.test]
    tls: { mode: PASSTHROUGH }
  - port: { number: 443, name: tls-2, protocol: TLS }
    hosts: [B.test]
    tls: { mode: PASSTHROUGH }
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: [c.test]
    tls: { credentialName: c }
`);
    expect(await errors([gw])).toEqual([
      `${gw}:8: spec.servers[0].tls: does not apply to a TCP server, which forwards bytes as they come; to route TLS by SNI without terminating it, use protocol TLS with tls.mode PASSTHROUGH`,
      `${gw}:13: spec.servers[2].hosts[0]: SNI host "b.test" is already passed through on port 443 by spec.servers[1]`,
      `${gw}:15: spec.servers[3].port.protocol: port 443 already serves TLS; one port serves one protocol (Portico cannot terminate some names and pass others through on one port)`,
    ]);
  });

  test("HTTPS: where the certificate comes from (credentialName or the file form), and Istio-only modes", async () => {
    const gw = gateway(`
  - port: { number: 443, name: a, protocol: HTTPS }
    hosts: [a.test]
    tls: { mode: SIMPLE, credentialName: a, serverCertificate: a.crt }
  - port: { number: 443, name: b, protocol: HTTPS }
    hosts: [b.test]
    tls: { mode: MUTUAL, credentialName: b, caCertificates: ca.pem }
  - port: { number: 443, name: c, protocol: HTTPS }
    hosts: [c.test]
    tls: { mode: MUTUAL }
  - port: { number: 443, name: d, protocol: HTTPS }
    hosts: [d.test]
  - port: { number: 443, name: e, protocol: HTTPS }
    hosts: [e.test]
    tls: { mode: ISTIO_MUTUAL }
  - port: { number: 443, name: f, protocol: HTTPS }
    hosts: [f.test, a.test]
    tls: { mode: PASSTHROUGH }
`);
    expect(await errors([gw])).toEqual([
      `${gw}:8: spec.servers[0].tls.serverCertificate: credentialName and serverCertificate/privateKey are alternatives: set one of them`,
      `${gw}:11: spec.servers[1].tls.caCertificates: goes with serverCertificate and privateKey; with credentialName the CA comes from the Secret (ca.crt or cacert), a <credentialName>-cacert Secret, or ca.crt in the credential folder`,
      `${gw}:14: spec.servers[2].tls.credentialName: required field is missing; expected the name of a Secret document or of a credential folder (or serverCertificate and privateKey)`,
      `${gw}:15: spec.servers[3].tls: an HTTPS server needs tls with mode and credentialName (or serverCertificate and privateKey)`,
      `${gw}:19: spec.servers[4].tls.mode: not supported by Portico: ISTIO_MUTUAL uses the certificates Istio's mesh CA issues to workloads; Portico has no mesh: use MUTUAL with credentialName`,
      `${gw}:21: spec.servers[5].hosts[1]: host "a.test" is already served on port 443 by spec.servers[0]`,
      `${gw}:22: spec.servers[5].tls.mode: PASSTHROUGH belongs on a TLS listener (protocol: TLS); an HTTPS listener terminates TLS: use SIMPLE, MUTUAL or OPTIONAL_MUTUAL`,
    ]);
  });

  test("routes.yaml's rules apply as they are: fields per mode, file form, versions, cipher suites, value shapes", async () => {
    const gw = gateway(`
  - port: { number: 443, name: a, protocol: HTTPS }
    hosts: [a.test]
    tls: { mode: SIMPLE, serverCertificate: a.crt, privateKey: a.key, subjectAltNames: [x], caCrl: x.crl }
  - port: { number: 443, name: b, protocol: HTTPS }
    hosts: [b.test]
    tls: { mode: OPTIONAL_MUTUAL, serverCertificate: b.crt, privateKey: b.key }
  - port: { number: 443, name: c, protocol: HTTPS }
    hosts: [c.test]
    tls: { privateKey: c.key, minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_2 }
  - port: { number: 443, name: d, protocol: HTTPS }
    hosts: [d.test]
    tls: { serverCertificate: d.crt, privateKey: d.key, minProtocolVersion: TLSV1_1, cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256] }
  - port: { number: 443, name: e, protocol: HTTPS }
    hosts: [e.test]
    tls: { serverCertificate: e.crt, privateKey: e.key, minProtocolVersion: TLSV1_3, cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256] }
  - port: { number: 443, name: f, protocol: HTTPS }
    hosts: [f.test]
    tls: { mode: MUTUAL, serverCertificate: f.crt, privateKey: f.key, caCertificates: ca.pem, verifyCertificateSpki: [abc], cipherSuites: [TLS_AES_128_GCM_SHA256] }
`);
    expect(await errors([gw])).toEqual([
      `${gw}:8: spec.servers[0].tls.subjectAltNames: only applies with mode MUTUAL or OPTIONAL_MUTUAL: a SIMPLE server never asks for a client certificate`,
      `${gw}:8: spec.servers[0].tls.caCrl: only applies with mode MUTUAL or OPTIONAL_MUTUAL: a SIMPLE server never asks for a client certificate`,
      `${gw}:11: spec.servers[1].tls.caCertificates: required for mode OPTIONAL_MUTUAL: the CA bundle that client certificates must chain to`,
      `${gw}:14: spec.servers[2].tls.serverCertificate: required with privateKey; expected a file path`,
      `${gw}:14: spec.servers[2].tls.minProtocolVersion: TLSV1_3 is above maxProtocolVersion TLSV1_2`,
      `${gw}:17: spec.servers[3].tls.minProtocolVersion: TLSV1_1 is not supported: TLS 1.0 and 1.1 are deprecated (RFC 8996) and Portico serves TLS 1.2 and 1.3 only; use TLSV1_2 or TLSV1_3`,
      `${gw}:20: spec.servers[4].tls.cipherSuites: cipherSuites apply to TLS 1.2 only, and minProtocolVersion TLSV1_3 rules TLS 1.2 out; remove one of them`,
      `${gw}:23: spec.servers[5].tls.verifyCertificateSpki[0]: expected the base64 SHA-256 of a SubjectPublicKeyInfo (44 characters, as printed by \`openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64\`), got "abc"`,
      `${gw}:23: spec.servers[5].tls.cipherSuites[0]: TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite; TLS 1.3 suites are not configurable, cipherSuites applies to TLS 1.2 only`,
    ]);
  });

  test("tcp and tls routes: Istio match attributes Portico does not honour, RouteDestination fields, sniHosts outside hosts, unknown services", async () => {
    const vs = file(yaml`
      apiVersion: networking.istio.io/v1beta1
      kind: Gateway
      metadata: { name: gw }
      spec:
        servers:
        - port: { number: 31400, name: tcp, protocol: TCP }
          hosts: ["*"]
        - port: { number: 443, name: tls, protocol: TLS }
          hosts: [a.test]
          tls: { mode: PASSTHROUGH }
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: VirtualService
      metadata: { name: vs }
      spec:
        hosts: [a.test]
        gateways: [gw]
        tcp:
        - match:
          - port: 31400
            sourceLabels: { app: x }
            destinationSubnets: [10.0.0.0/8]
          route:
          - destination: { host: echo, subset: v1 }
            headers: { request: { set: { a: b } } }
        - match: [{ port: 31400 }]
        tls:
        - match:
          - sniHosts: [b.test]
          route:
          - destination: { host: backend }
        - route:
          - destination: { host: echo }
          - destination: { host: echo }
            weight: 0
    `);
    expect(await errors([vs], { services: services({ echo: "tcp://127.0.0.1:1" }) })).toEqual([
      `${vs}:21: spec.tcp[0].match[0].sourceLabels: field "sourceLabels" is not supported by Portico: Portico is an edge proxy; connections do not come from labelled workloads`,
      `${vs}:22: spec.tcp[0].match[0].destinationSubnets: field "destinationSubnets" is not supported by Portico: Portico chooses tcp and tls routes by port (and SNI) only; bind Portico to the address instead (--bind)`,
      `${vs}:25: spec.tcp[0].route[0].headers: unknown field "headers"; expected one of: destination, weight`,
      `${vs}:26: spec.tcp[1].route: required field is missing; expected a non-empty list of destinations`,
      `${vs}:29: spec.tls[0].match[0].sniHosts[0]: "b.test" is not among the VirtualService's hosts (a.test); add it to hosts or fix the name`,
      `${vs}:31: spec.tls[0].route[0].destination.host: unknown service "backend"; known services: echo; give its address with --service backend=tcp://HOST:PORT`,
      `${vs}:32: spec.tls[1].match: required field is missing; expected a non-empty list of match conditions, each with sniHosts`,
    ]);
  });

  test("a destination's subset must be one its service defines, as in HTTP routes; weights 0 everywhere too", async () => {
    const vs = file(yaml`
      apiVersion: networking.istio.io/v1beta1
      kind: Gateway
      metadata: { name: gw }
      spec:
        servers:
        - port: { number: 31400, name: tcp, protocol: TCP }
          hosts: ["*"]
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: VirtualService
      metadata: { name: vs }
      spec:
        hosts: ["*"]
        gateways: [gw]
        tcp:
        - route:
          - destination: { host: echo, subset: v1 }
        - route:
          - destination: { host: echo }
            weight: 0
    `);
    expect(await errors([vs], { services: services({ echo: "tcp://127.0.0.1:1" }) })).toEqual([
      `${vs}:18: spec.tcp[1].route: every destination has weight 0; at least one weight must be greater than 0`,
      // Subsets are checked once every document is read (DestinationRules may come later).
      `${vs}:17: spec.tcp[0].route[0].destination.subset: unknown subset "v1" of service "echo": it has no subsets; define them in a DestinationRule for host echo (or under services.echo.subsets in routes.yaml)`,
    ]);
  });

  test("across VirtualServices: one SNI name routed twice on a port, an HTTP route to a tcp:// service", async () => {
    const gw = join(SNI, "passthrough-sni-gateway-both.yaml");
    const vs1 = join(SNI, "passthrough-sni-vs-1.yaml");
    const again = file(yaml`
      apiVersion: networking.istio.io/v1beta1
      kind: VirtualService
      metadata: { name: again }
      spec:
        hosts: ["*.istioinaction.io"]
        gateways: [sni-passthrough-gateway]
        tls:
        - match:
          - port: 31400
            sniHosts: [simple-sni-1.istioinaction.io]
          route:
          - destination: { host: simple-tls-service-2 }
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: Gateway
      metadata: { name: web }
      spec:
        servers:
        - port: { number: 80, name: http, protocol: HTTP }
          hosts: ["*"]
      ---
      apiVersion: networking.istio.io/v1beta1
      kind: VirtualService
      metadata: { name: web }
      spec:
        hosts: ["*"]
        gateways: [web]
        http:
        - route:
          - destination: { host: simple-tls-service-1 }
    `);
    const opts = {
      services: services({
        "simple-tls-service-1": "tcp://127.0.0.1:1",
        "simple-tls-service-2": "tcp://127.0.0.1:2",
      }),
    };
    expect(await errors([gw, vs1, again], opts)).toEqual([
      `${again}:10: spec.tls[0].match[0].sniHosts[0]: SNI host "simple-sni-1.istioinaction.io" on port 31400 is already routed by ${vs1}:11 (spec.tls[0]); only the first route could ever be chosen`,
      `${again}:30: spec.http[0].route[0].destination: service "simple-tls-service-1" is tcp://127.0.0.1:1, which only tcp and tls routes can use; an HTTP route needs an http:// or https:// service`,
    ]);
  });

  test("a VirtualService with no routes; a --service tcp:// URL without a port", async () => {
    const vs = file(yaml`
      apiVersion: networking.istio.io/v1beta1
      kind: VirtualService
      metadata: { name: empty }
      spec:
        hosts: ["*"]
        gateways: [echo-tcp-gateway]
    `);
    expect(
      await errors([join(BOOK, "gateway-tcp.yaml"), vs], {
        services: services({ "tcp-echo-service": "tcp://127.0.0.1" }),
      }),
    ).toEqual([
      "--service: tcp-echo-service: tcp://127.0.0.1: a tcp:// URL needs a port",
      `${vs}:4: spec: expected http, tcp or tls routes`,
    ]);
  });
});
