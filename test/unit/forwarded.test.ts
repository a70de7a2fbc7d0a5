// Envoy's edge rules for a client's forwarding headers (src/http/forwarded.ts), case by case.
import { describe, expect, test } from "bun:test";
import { composeConfig } from "../../src/config/sources/compose.ts";
import type { ConfigIssue } from "../../src/util/errors.ts";
import { setForwardingHeaders, trustedClientAddress } from "../../src/http/forwarded.ts";

describe("trustedClientAddress (Envoy's getLastAddressFromXFF)", () => {
  const xff = "192.0.2.1, 198.51.100.2,203.0.113.3";
  test("0 trusted hops: the peer, whatever the header says", () => {
    expect(trustedClientAddress(xff, "10.0.0.1", 0)).toBe("10.0.0.1");
  });
  test("N trusted hops: the Nth entry from the right", () => {
    expect(trustedClientAddress(xff, "10.0.0.1", 1)).toBe("203.0.113.3");
    expect(trustedClientAddress(xff, "10.0.0.1", 2)).toBe("198.51.100.2");
    expect(trustedClientAddress(xff, "10.0.0.1", 3)).toBe("192.0.2.1");
  });
  test("too few entries, no header, or not an IP address: the peer", () => {
    expect(trustedClientAddress(xff, "10.0.0.1", 4)).toBe("10.0.0.1");
    expect(trustedClientAddress(null, "10.0.0.1", 1)).toBe("10.0.0.1");
    expect(trustedClientAddress("203.0.113.3:443", "10.0.0.1", 1)).toBe("10.0.0.1");
    expect(trustedClientAddress("unknown", "10.0.0.1", 1)).toBe("10.0.0.1");
    expect(trustedClientAddress("2001:db8::1", "10.0.0.1", 1)).toBe("2001:db8::1");
  });
});

describe("setForwardingHeaders", () => {
  const run = (sent: Record<string, string>, hops: number, preserve = false) => {
    const src = new Headers(sent);
    const out = new Headers(sent);
    const client = trustedClientAddress(src.get("x-forwarded-for"), "10.0.0.1", hops);
    setForwardingHeaders(out, src, "10.0.0.1", client, "https", {
      numTrustedProxies: hops,
      preserveExternalRequestId: preserve,
    });
    return out;
  };
  test("untrusted: proto overwritten, request id replaced, XFF appended", () => {
    const h = run({ "x-forwarded-proto": "http", "x-request-id": "r", "x-forwarded-for": "192.0.2.1" }, 0);
    expect(h.get("x-forwarded-proto")).toBe("https");
    expect(h.get("x-request-id")).not.toBe("r");
    expect(h.get("x-forwarded-for")).toBe("192.0.2.1, 10.0.0.1");
    expect(h.get("x-envoy-external-address")).toBe("10.0.0.1");
  });
  test("trusted: the proxy's proto is kept; preserveExternalRequestId keeps the id", () => {
    const h = run(
      { "x-forwarded-proto": "http", "x-request-id": "r", "x-forwarded-for": "192.0.2.1" },
      1,
      true,
    );
    expect(h.get("x-forwarded-proto")).toBe("http");
    expect(h.get("x-request-id")).toBe("r");
    expect(h.get("x-envoy-external-address")).toBe("192.0.2.1");
  });
  test("preserveExternalRequestId still generates one when the client sent none", () => {
    expect(run({}, 0, true).get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("where the trust comes from", () => {
  const compose = (...texts: string[]) => {
    const warnings: ConfigIssue[] = [];
    const files = texts.map((_, i) => `f${i}.yaml`);
    const config = composeConfig(
      files,
      texts.map((text, i) => ({ file: files[i]!, text })),
      { warn: (w) => warnings.push(w) },
    );
    return { config, warnings: warnings.map((w) => w.message) };
  };
  const routes = (settings = "", listener = "") => `
${settings}
listeners: [{ name: web, port: 8080, protocol: HTTP ${listener} }]
routes: [{ hosts: ["*"], http: [{ directResponse: { status: 200 } }] }]
`;
  const operator = (defaultConfig: string) => `
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: { name: x }
spec:
  meshConfig: { defaultConfig: ${defaultConfig} }
`;
  const configMap = `
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    defaultConfig:
      gatewayTopology:
        numTrustedProxies: 3
`;

  test("settings, a listener, meshConfig.defaultConfig.gatewayTopology (IstioOperator or ConfigMap)", () => {
    expect(compose(routes()).config.settings.numTrustedProxies).toBeUndefined();
    expect(compose(routes("settings: { numTrustedProxies: 2 }")).config.settings.numTrustedProxies).toBe(2);
    const l = compose(routes("", ", numTrustedProxies: 1, preserveExternalRequestId: true")).config
      .listeners[0];
    expect(l).toMatchObject({ numTrustedProxies: 1, preserveExternalRequestId: true });
    const op = compose(routes(), operator("{ gatewayTopology: { numTrustedProxies: 2 }, concurrency: 2 }"));
    expect(op.config.settings.numTrustedProxies).toBe(2);
    expect(op.warnings.join("\n")).toContain("ignored (only meshConfig.accessLogFile");
    expect(compose(routes(), configMap).config.settings.numTrustedProxies).toBe(3);
    // routes.yaml's settings beat the mesh's default.
    const both = compose(routes("settings: { numTrustedProxies: 1 }"), configMap);
    expect(both.config.settings.numTrustedProxies).toBe(1);
  });

  test("a bad value names the field", () => {
    expect(() => compose(routes("settings: { numTrustedProxies: -1 }"))).toThrow(/numTrustedProxies/);
    expect(() => compose(routes("", ", numTrustedProxies: lots"))).toThrow(/numTrustedProxies/);
    expect(() => compose(routes(), operator("{ gatewayTopology: { numTrustedProxies: 1.5 } }"))).toThrow(
      /numTrustedProxies: expected an integer 0\.\.64|expected an integer 0\.\.64/,
    );
  });
});
