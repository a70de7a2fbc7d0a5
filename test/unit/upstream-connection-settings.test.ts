// A pool's connection settings (DestinationRule connectionPool: connectTimeout, tcpKeepalive,
// maxRequestsPerConnection, idleTimeout): which pools have them, how they pick a client, and how a
// connect timeout reads as an error. The clients applying them are tested end to end
// (test/e2e/upstream-connections.test.ts), on each runtime.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createSecureServer, type ServerHttp2Stream } from "node:http2";
import { createServer, type Server } from "node:net";
import { classifyFailure } from "../../src/http/retry.ts";
import { failureReason } from "../../src/http/proxy.ts";
import { UpstreamClients } from "../../src/upstream/clients.ts";
import { connectionSettings } from "../../src/upstream/connection-settings.ts";
import { createH2Client } from "../../src/upstream/h2-client.ts";
import { createNodeClient } from "../../src/upstream/node-client.ts";
import { connectionPool } from "../../src/upstream/pool/types.ts";
import type { UpstreamClient, UpstreamConnection, UpstreamProtocol } from "../../src/upstream/types.ts";
import { UpstreamConnectTimeoutError } from "../../src/util/errors.ts";
import { classifyError } from "../../src/util/runtime-error.ts";
import { TestPki } from "../helpers/pki.ts";

describe("connectionSettings", () => {
  test("none when every setting is Istio's default: such a pool keeps the runtime's default client", () => {
    expect(connectionSettings(undefined)).toBeUndefined();
    expect(connectionSettings(connectionPool())).toBeUndefined();
    // Limits are the pool engine's, not the client's.
    expect(connectionSettings(connectionPool({ maxConnections: 3, maxRetries: 1 }))).toBeUndefined();
  });

  test("any one setting brings all four, the others at Istio's defaults", () => {
    expect(connectionSettings(connectionPool({ maxRequestsPerConnection: 2 }))).toEqual({
      connectTimeoutMs: 10_000,
      idleTimeoutMs: 3_600_000,
      maxRequestsPerConnection: 2,
    });
    expect(connectionSettings(connectionPool({ tcpKeepalive: { timeMs: 7_000 } }))?.tcpKeepalive).toEqual({
      timeMs: 7_000,
    });
    expect(connectionSettings(connectionPool({ connectTimeoutMs: 250 }))?.connectTimeoutMs).toBe(250);
    expect(connectionSettings(connectionPool({ idleTimeoutMs: 1_000 }))?.idleTimeoutMs).toBe(1_000);
  });
});

describe("UpstreamClients with connection settings", () => {
  const factory = () => {
    const made: [UpstreamProtocol | undefined, UpstreamConnection | undefined][] = [];
    const clients = new UpstreamClients((_tls, protocol, connection) => {
      made.push([protocol, connection]);
      return (() => Promise.reject(new Error("unused"))) as UpstreamClient;
    });
    return { made, clients };
  };
  const pool = (given: Parameters<typeof connectionPool>[0]) => ({
    spec: { connectionPool: connectionPool(given) },
  });

  test("a pool without settings shares the default client with direct services", () => {
    const { made, clients } = factory();
    const direct = clients.for({ service: "a" });
    expect(clients.for({ service: "b", pool: pool({ maxConnections: 5 }) })).toBe(direct);
    expect(made).toEqual([[undefined, undefined]]);
  });

  test("different settings get different clients; equal settings on reload keep theirs", () => {
    const { made, clients } = factory();
    const one = clients.for({ service: "a", pool: pool({ idleTimeoutMs: 1_000 }) });
    const two = clients.for({ service: "b", pool: pool({ idleTimeoutMs: 2_000 }) });
    expect(two).not.toBe(one);
    expect(clients.for({ service: "a" })).not.toBe(one);
    // A reload: new objects, same settings.
    expect(clients.for({ service: "a", pool: pool({ idleTimeoutMs: 1_000 }) })).toBe(one);
    // The same pool object is looked up by identity from then on.
    const p = pool({ maxRequestsPerConnection: 1 });
    const three = clients.for({ service: "a", pool: p, protocol: "http2" });
    expect(clients.for({ service: "a", pool: p, protocol: "http2" })).toBe(three);
    expect(
      made.map(([proto, c]) => [proto ?? "http1", c?.idleTimeoutMs, c?.maxRequestsPerConnection]),
    ).toEqual([
      ["http1", 1_000, 0],
      ["http1", 2_000, 0],
      ["http1", undefined, undefined],
      ["http2", 3_600_000, 1],
    ]);
  });
});

describe("a connect timeout", () => {
  test("is a connect failure, with Envoy's reset reason", () => {
    const err = new UpstreamConnectTimeoutError("connection timeout: no connection to a:1 within 5 ms");
    expect(classifyError(err).kind).toBe("connect-timeout");
    expect(classifyFailure(err)).toBe("connect");
    expect(failureReason(err)).toBe("connection timeout");
    // The OS's own connect timeout, and an HTTP/2 stream cancelled by one, read the same.
    expect(
      classifyFailure(Object.assign(new Error("connect ETIMEDOUT 10.0.0.1:80"), { code: "ETIMEDOUT" })),
    ).toBe("connect");
    const cancelled = new Error("The pending stream has been canceled (caused by: connection timeout: x)", {
      cause: err,
    });
    expect(classifyFailure(cancelled)).toBe("connect");
  });

  test("node:http client: a TLS handshake that never completes fails in connectTimeout", async () => {
    // Accepts TCP and never answers the ClientHello: Envoy counts the handshake in connect_timeout.
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const client = createNodeClient(
      { insecureSkipVerify: true },
      { ...connectionSettings(connectionPool({ connectTimeoutMs: 150 }))! },
    );
    const started = performance.now();
    const signal = AbortSignal.timeout(3_000);
    const r = {
      url: `https://127.0.0.1:${port}/`,
      method: "GET",
      headers: new Headers(),
      body: null,
      signal,
    };
    const err = await client(r).then(
      () => undefined,
      (e: unknown) => e,
    );
    silent.close();
    expect(err).toBeInstanceOf(UpstreamConnectTimeoutError);
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});

describe("h2 client with connection settings", () => {
  test("opens its own TLS connections and still verifies the upstream (trust anchors, name)", async () => {
    const pki = new TestPki();
    const leaf = pki.issue("server", "h2.test", ["DNS:h2.test"], "serverAuth");
    const other = new TestPki("Another CA");
    const server = createSecureServer({ key: readFileSync(leaf.key), cert: readFileSync(leaf.crt) });
    server.on("stream", (stream: ServerHttp2Stream) => {
      stream.respond({ ":status": 200 });
      stream.end("h2 ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const settings = connectionSettings(connectionPool({ tcpKeepalive: { timeMs: 5_000 } }))!;
    const send = (client: UpstreamClient) =>
      client({
        url: `https://127.0.0.1:${port}/`,
        method: "GET",
        headers: new Headers({ host: "h2.test" }),
        body: null,
        signal: AbortSignal.timeout(3_000),
      }).then(
        async (res) => `${res.status} ${await res.text()}`,
        (e: unknown) => `error ${(e as Error).message}`,
      );
    const ca = readFileSync(pki.ca.crt, "utf8");
    try {
      expect(await send(createH2Client({ ca, serverName: "h2.test" }, settings))).toBe("200 h2 ok");
      const wrongCa = readFileSync(other.ca.crt, "utf8");
      expect(await send(createH2Client({ ca: wrongCa, serverName: "h2.test" }, settings))).toStartWith(
        "error",
      );
      expect(await send(createH2Client({ ca, serverName: "other.test" }, settings))).toStartWith("error");
    } finally {
      server.close();
    }
  });
});
