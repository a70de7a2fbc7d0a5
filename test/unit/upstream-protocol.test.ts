// HTTP/2 and gRPC upstreams: how a service asks for HTTP/2, what HTTP/3 gets, gRPC deadlines and
// status mapping, and which adapters can carry trailers.
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { parseServiceUrl } from "../../src/config/service-url.ts";
import { grpcStatusOf, grpcTimeoutMs, isGrpc } from "../../src/http/grpc.ts";
import { selectAdapter } from "../../src/listeners/select.ts";
import type { ListenerSpec } from "../../src/listeners/_shared/types.ts";
import { routesYamlErrors as errors } from "../helpers/config-errors.ts";
import { yaml } from "../helpers/yaml.ts";

describe("service protocol", () => {
  test("h2c:// and h2:// are http:// and https:// origins with HTTP/2", () => {
    expect(parseServiceUrl("h2c://127.0.0.1:50051")).toEqual({
      ok: true,
      origin: "http://127.0.0.1:50051",
      host: "127.0.0.1",
      port: 50051,
      protocol: "http2",
    });
    expect(parseServiceUrl("h2://grpc.test")).toMatchObject({ origin: "https://grpc.test", port: 443 });
    expect(parseServiceUrl("http://a:1")).not.toHaveProperty("protocol");
    expect(parseServiceUrl("h3://a:1")).toMatchObject({
      ok: false,
      problem: expect.stringContaining("HTTP/3"),
    });
  });

  test("routes.yaml: protocol HTTP2 or GRPC (any case) on the service, or the URL scheme", () => {
    const config = parseConfig(
      yaml`
        listeners: [{ name: web, port: 8080, protocol: HTTP }]
        services:
          a: h2c://127.0.0.1:1
          b: { url: "https://127.0.0.1:2", protocol: grpc }
          c: { url: "http://127.0.0.1:3", protocol: HTTP2 }
          d: { url: "http://127.0.0.1:4", protocol: HTTP }
          e: http://127.0.0.1:5
      `,
      "routes.yaml",
    );
    const protocol = (n: string) => config.services.get(n)?.protocol;
    expect([..."abcde"].map(protocol)).toEqual(["http2", "http2", "http2", undefined, undefined]);
    expect(config.services.get("b")?.url).toBe("https://127.0.0.1:2");
  });

  test("HTTP/3, gRPC-Web and contradictions are refused with the reason", () => {
    expect(
      errors(yaml`
        listeners: [{ name: web, port: 8080, protocol: HTTP }]
        services:
          a: { url: "http://127.0.0.1:1", protocol: HTTP3 }
          b: { url: "http://127.0.0.1:2", protocol: GRPC-WEB }
          c: { url: "h2c://127.0.0.1:3", protocol: HTTP }
          d: { url: "http://127.0.0.1:4", protocol: SPDY }
          e: { url: "h2c://127.0.0.1:5", tls: { ca: ca.crt } }
      `),
    ).toEqual([
      "routes.yaml:3: services.a.protocol: HTTP/3 (QUIC) is not supported: no runtime Portico runs on has a " +
        "QUIC server or client in its standard library; use HTTP2 (h2 over TLS) instead",
      "routes.yaml:4: services.b.protocol: GRPC-WEB is not supported: Portico does not translate gRPC-Web; " +
        "use GRPC for a gRPC upstream",
      "routes.yaml:5: services.c.protocol: HTTP contradicts the h2c:// or h2:// url, which asks for HTTP/2",
      'routes.yaml:6: services.d.protocol: expected HTTP, HTTP2, GRPC or AUTO, got "SPDY"',
      "routes.yaml:7: services.e.tls: only allowed with an https:// or h2:// url",
    ]);
  });
});

describe("protocol AUTO (h2 or http/1.1 by ALPN)", () => {
  test("on an https:// url or endpoints with tls, in any case", () => {
    const config = parseConfig(
      yaml`
        listeners: [{ name: web, port: 8080, protocol: HTTP }]
        services:
          a: { url: "https://127.0.0.1:1", protocol: AUTO }
          b: { endpoints: [{ address: 127.0.0.1, port: 2 }], tls: { ca: ca.crt }, protocol: auto }
          c: https://127.0.0.1:3
      `,
      "routes.yaml",
    );
    expect([..."abc"].map((n) => config.services.get(n)?.protocol)).toEqual(["auto", "auto", undefined]);
  });

  test("refused on cleartext, where there is no ALPN, and with h2://", () => {
    expect(
      errors(yaml`
        listeners: [{ name: web, port: 8080, protocol: HTTP }]
        services:
          a: { url: "http://127.0.0.1:1", protocol: AUTO }
          b: { url: "h2c://127.0.0.1:2", protocol: auto }
          c: { url: "h2://127.0.0.1:3", protocol: AUTO }
          d: { endpoints: [{ address: 127.0.0.1, port: 4 }], protocol: AUTO }
      `),
    ).toEqual([
      "routes.yaml:3: services.a.protocol: AUTO picks HTTP/2 or HTTP/1.1 by ALPN in the TLS handshake, " +
        "and an http:// url is cleartext, which has no ALPN; use HTTP2 or an h2c:// url for cleartext " +
        "HTTP/2 (prior knowledge)",
      "routes.yaml:4: services.b.protocol: AUTO picks HTTP/2 or HTTP/1.1 by ALPN in the TLS handshake, " +
        "and h2c:// is cleartext HTTP/2 with prior knowledge; drop protocol to keep h2c",
      "routes.yaml:5: services.c.protocol: AUTO contradicts the h2:// url, which asks for HTTP/2; " +
        "use an https:// url",
      "routes.yaml:6: services.d.protocol: AUTO picks HTTP/2 or HTTP/1.1 by ALPN in the TLS handshake, " +
        "and endpoints without tls are cleartext: add tls, or use HTTP2 or an h2c:// url for cleartext " +
        "HTTP/2 (prior knowledge)",
    ]);
  });
});

describe("gRPC at the proxy", () => {
  const req = (headers: Record<string, string>) => new Request("https://a/x", { method: "POST", headers });

  test("gRPC requests by content-type; gRPC-Web is not gRPC", () => {
    expect(isGrpc(req({ "content-type": "application/grpc" }))).toBe(true);
    expect(isGrpc(req({ "content-type": "application/grpc+proto" }))).toBe(true);
    expect(isGrpc(req({ "content-type": "application/grpc-web+proto" }))).toBe(false);
    expect(isGrpc(req({ "content-type": "application/json" }))).toBe(false);
  });

  test("grpc-timeout replaces the route timeout, capped by it; 0 leaves it uncapped", () => {
    const grpc = (t: string) => req({ "content-type": "application/grpc", "grpc-timeout": t });
    expect(grpcTimeoutMs(grpc("300m"), 15_000)).toBe(300);
    expect(grpcTimeoutMs(grpc("2S"), 1_000)).toBe(1_000);
    expect(grpcTimeoutMs(grpc("1H"), 0)).toBe(3_600_000);
    expect(grpcTimeoutMs(grpc("100u"), 0)).toBe(1);
    expect(grpcTimeoutMs(grpc("bogus"), 15_000)).toBe(15_000);
    expect(grpcTimeoutMs(req({ "content-type": "application/grpc" }), 15_000)).toBe(15_000);
  });

  test("Portico's HTTP statuses map to gRPC statuses as Envoy maps them", () => {
    expect([404, 503, 504, 400, 401, 403, 429, 500].map(grpcStatusOf)).toEqual([
      12, 14, 14, 13, 16, 7, 14, 2,
    ]);
  });
});

describe("trailers need", () => {
  const spec: ListenerSpec = {
    kind: "http",
    name: "l",
    address: "127.0.0.1",
    port: 1,
    trailers: true,
    tls: {
      policies: [{ hosts: ["*"], certPem: "", keyPem: "", requireClientCert: false }],
      selectPolicy: () => 0,
      defaultPolicy: 0,
      minVersion: "TLSv1.2",
    },
    handler: () => new Response(),
  };
  test("Bun.serve cannot write trailers: bun-sni hands the listener to node:http2", () => {
    expect(selectAdapter({ ...spec, trailers: false }, "bun").name).toBe("bun-serve");
    expect(selectAdapter(spec, "bun").name).toBe("bun-sni");
    expect(selectAdapter(spec, "deno").name).toBe("node-http2-pipe");
    expect(() => selectAdapter(spec, "bun", "bun-serve")).toThrow(
      'listener "l" needs response trailers (routes to an HTTP/2 or gRPC service), which adapter bun-serve cannot honour',
    );
  });
});
