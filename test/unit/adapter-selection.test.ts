// Which listener adapter takes a TCP or TLS listener, on each runtime.
import { describe, expect, test } from "bun:test";
import { selectAdapter } from "../../src/listeners/select.ts";
import type { ListenerSpec, TlsPolicy } from "../../src/listeners/_shared/types.ts";

describe("adapter selection", () => {
  const policy = (extra: Partial<TlsPolicy>): TlsPolicy => ({
    hosts: ["a.test"],
    certPem: "",
    keyPem: "",
    requireClientCert: false,
    ...extra,
  });
  const spec = (p: TlsPolicy): ListenerSpec => ({
    kind: "http",
    name: "l",
    address: "127.0.0.1",
    port: 1,
    tls: { policies: [p], selectPolicy: () => 0, defaultPolicy: 0, minVersion: "TLSv1.2" },
    handler: () => new Response(),
  });

  test("TCP listeners: node-tcp on every runtime, whatever --adapter says", () => {
    const s: ListenerSpec = {
      kind: "stream",
      name: "t",
      address: "127.0.0.1",
      port: 1,
      sni: false,
      backend: () => undefined,
    };
    for (const rt of ["bun", "deno", "node"] as const)
      expect(selectAdapter(s, rt, "bun-serve").name).toBe("node-tcp");
  });

  test("Bun.serve never takes OPTIONAL_MUTUAL, client-certificate checks, versions or ciphers", () => {
    expect(selectAdapter(spec(policy({})), "bun").name).toBe("bun-serve");
    for (const extra of [
      { requestClientCert: true },
      { checkClientCert: () => undefined },
      { minVersion: "TLSv1.3" as const },
      { ciphers: "AES128-GCM-SHA256" },
    ]) {
      expect(selectAdapter(spec(policy(extra)), "bun").name).toBe("bun-sni");
      expect(selectAdapter(spec(policy(extra)), "node").name).toBe("node-http2");
    }
  });

  test("the raw request-target (requestTarget exact, pathNormalization NONE): never Bun.serve", () => {
    const raw = { ...spec(policy({})), rawTarget: true } as ListenerSpec;
    const plain = { ...raw, tls: undefined } as ListenerSpec;
    for (const s of [raw, plain]) {
      expect(selectAdapter(s, "bun").name).toBe("node-http2");
      expect(selectAdapter(s, "deno").name).toBe("node-http2-pipe");
      expect(selectAdapter(s, "node").name).toBe("node-http2");
    }
    expect(selectAdapter(plain, "bun", "node-http2").name).toBe("node-http2");
    expect(() => selectAdapter(plain, "bun", "bun-sni")).toThrow(
      'listener "l" needs the request-target exactly as sent (settings.requestTarget exact, the default, ' +
        "or pathNormalization NONE), which adapter bun-sni cannot honour; use node-http2-pipe (deno) or " +
        "node-http2 (bun, deno, node)",
    );
  });

  test("cipherSuites on Deno: refused at startup, with where it works", () => {
    expect(() => selectAdapter(spec(policy({ ciphers: "AES128-GCM-SHA256" })), "deno")).toThrow(
      'listener "l" needs TLS 1.2 cipher suites per server (cipherSuites), which no adapter on deno can honour; use bun-sni (bun) or node-http2 (bun, node)',
    );
    expect(selectAdapter(spec(policy({ minVersion: "TLSv1.3", requestClientCert: true })), "deno").name).toBe(
      "node-http2-pipe",
    );
  });
});
