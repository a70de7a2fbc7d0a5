// Adapter conformance: the same cases against every listener adapter of the runtime under test,
// each forced with `--adapter NAME`. Three listeners, started separately because one adapter may
// refuse one of them: plain HTTP; HTTPS whose "*" server takes any SNI (every adapter can serve
// it); HTTPS with strict SNI, several certificates and a MUTUAL host. Where an adapter cannot
// serve a listener, the suite asserts that Portico refuses to start with its reason, and skips
// that listener's cases naming the reason.
//
// EXPECTED mirrors the adapter table of src/listeners/select.ts (which adapter runs where and
// what it cannot honour); a change there fails the refusal cases here, on purpose.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoUpstreams, type DemoUpstreams } from "../../scripts/demo-upstreams.ts";
import { HOST_CATALOG, HOST_WEBAPP, book, bookCredentials } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { exchange, freePorts, listeningPorts } from "../helpers/net.ts";
import {
  RUNTIME,
  runPortico,
  startPorticoWith,
  writeConfig,
  type PorticoProcess,
} from "../helpers/portico.ts";
import { handshake, tls11Server } from "../helpers/tls-client.ts";
import { EchoUpstream, RequestLineUpstream } from "../helpers/upstreams.ts";
import {
  BINARY,
  type Callback,
  type Client,
  grpc,
  type Msg,
  pkg,
  portOf,
  startGrpc,
} from "../helpers/grpc.ts";
import { type ClientOptions, WebSocket } from "ws";

type Listener = "plain" | "any-sni" | "strict-sni" | "grpc";
const MTLS_HOST = "mtls.istioinaction.io";

interface Expectation {
  /** Listeners select.ts says the adapter cannot serve, with the reason: Portico must refuse them. */
  cannot?: Partial<Record<Listener, string>>;
  /** Listeners the adapter should serve but does not today (a defect to fix in src/listeners/). */
  defect?: Partial<Record<Listener, string>>;
  /** Single cases the runtime's own API gets wrong for this adapter, documented in src. */
  failing?: Record<string, string>;
}

const TLS_KEEP_ALIVE = "HTTP/1.1 over TLS keeps the connection alive";
const RAW_QUERY = "the request target reaches the upstream byte for byte";
const RAW_QUERY_H2 = `${RAW_QUERY}, over h2 and HTTP/1.1`;
const BUN_SERVE_URL =
  "Bun.serve hands over a WHATWG-parsed Request.url, in which `'` in the query is already %27; " +
  "the raw request-target is lost before Portico sees it (docs/runtimes.md)";

/** What Portico says when it refuses a listener, per listener. */
const REFUSAL: Partial<Record<Listener, string>> = {
  "strict-sni":
    'listener "web" needs refusing handshakes with an unknown or missing SNI and client certificates',
  grpc: 'listener "web" needs response trailers (routes to an HTTP/2 or gRPC service)',
};

/** Per runtime: its adapters, and what each cannot or does not do. */
const EXPECTED: Record<typeof RUNTIME, Record<string, Expectation>> = {
  bun: {
    "bun-serve": {
      cannot: {
        "strict-sni": "cannot refuse an unknown or missing SNI, nor ask for client certificates",
        grpc: "cannot write response trailers (a Web Response has none)",
      },
      failing: { [RAW_QUERY]: BUN_SERVE_URL, [RAW_QUERY_H2]: BUN_SERVE_URL },
    },
    // h2 clients of SIMPLE hosts reach Bun.serve, which loses the raw target; HTTP/1.1 clients
    // (node:https, for upgrades), plain HTTP (node:http, for upgrades) and the MUTUAL host keep it.
    "bun-sni": { failing: { [RAW_QUERY_H2]: BUN_SERVE_URL } },
    "node-http2": {},
  },
  deno: {
    "node-http2-pipe": {},
    "node-http2": {
      failing: {
        [TLS_KEEP_ALIVE]:
          'Deno\'s node:http2 closes an HTTP/1.1 connection handed over with emit("connection") after its ' +
          "first response, which is why node-http2-pipe exists",
      },
    },
  },
  node: { "node-http2": {} },
};
const RUNS_ON: Record<string, string> = {
  "bun-serve": "bun",
  "bun-sni": "bun",
  "node-http2-pipe": "deno",
  "node-http2": "bun, deno, node",
};

let upstreams: DemoUpstreams;
let echo: EchoUpstream;
let grpcUpstream: grpc.Server;
let raw: RequestLineUpstream;
const dir = mkdtempSync(join(tmpdir(), "portico-adapters-"));
const data = Buffer.alloc(3 * 1024 * 1024, 0);
for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
const bodyFile = join(dir, "body.bin");

beforeAll(async () => {
  await Bun.write(bodyFile, data);
  upstreams = await startDemoUpstreams();
  echo = await new EchoUpstream().start();
  grpcUpstream = await startGrpc("h2c", grpc.ServerCredentials.createInsecure());
  raw = await new RequestLineUpstream().start();
});
afterAll(async () => {
  grpcUpstream?.forceShutdown();
  await echo?.stop();
  await raw?.stop();
  await upstreams?.close();
});

/**
 * Routes forward WebSocket upgrades (the default) unless `websocket` is false: bun-serve cannot
 * tunnel an upgrade (the websocket need), so its cases run with `websocket: false` routes, and
 * a refusal case shows it is not picked for the default.
 */
function config(listener: Listener, port: number, websocket = true, exactTarget = true): string {
  const off = websocket ? "" : "\n        websocket: false";
  const settings = exactTarget ? "" : "settings: { requestTarget: whatwg }\n";
  const listeners = {
    plain: `[{ name: web, address: 127.0.0.1, port: ${port}, protocol: HTTP }]`,
    "any-sni": `
  - name: web
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - hosts: ["*"]
        tls: { mode: SIMPLE, credential: webapp-credential }`,
    grpc: `
  - name: web
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - hosts: ["*"]
        tls: { mode: SIMPLE, credential: webapp-credential }`,
    "strict-sni": `
  - name: web
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { mode: SIMPLE, credential: webapp-credential }
      - hosts: [${HOST_CATALOG}]
        tls: { mode: SIMPLE, credential: catalog-credential }
      - hosts: [${MTLS_HOST}]
        tls: { mode: MUTUAL, credential: webapp-credential-mtls }`,
  }[listener];
  return `${settings}listeners: ${listeners}
${bookCredentials}
services:
  webapp: http://127.0.0.1:${upstreams.webappPort}
  echo: http://127.0.0.1:${echo.port}
  grpc: h2c://127.0.0.1:${portOf(grpcUpstream)}
  raw: http://127.0.0.1:${raw.port}
routes:
  - hosts: ["*"]
    http:${listener === "grpc" ? "\n      - { match: [{ uri: { prefix: /echo.Echo/ } }], route: [{ destination: grpc }] }" : ""}
      - match: [{ uri: { prefix: /upload } }]
        route: [{ destination: webapp }]${off}
      - match: [{ uri: { prefix: /raw/ } }]
        route: [{ destination: raw }]${off}
      - route: [{ destination: echo }]${off}
`;
}

/** The adapters that cannot tunnel an upgrade (select.ts: the websocket need). */
const NO_WEBSOCKET = new Set(["bun-serve"]);
/**
 * The adapters that never see the raw request-target (select.ts: the rawTarget need): their cases
 * run with `requestTarget: whatwg`, and a refusal case shows they are not picked by default.
 */
const NO_RAW_TARGET = new Set(["bun-serve", "bun-sni"]);

/** `portico run` on `listener` at `port`, with `adapter` forced and no admin listener. */
const runArgs = (
  adapter: string,
  listener: Listener,
  port: number,
  websocket = !NO_WEBSOCKET.has(adapter),
  exactTarget = !NO_RAW_TARGET.has(adapter),
) => [
  "run",
  "-c",
  writeConfig(config(listener, port, websocket, exactTarget)),
  "--admin",
  "off",
  "--adapter",
  adapter,
];

/** Starts Portico on `listener` with `adapter` for the cases of one describe block (unless skipped). */
function serving(adapter: string, listener: Listener, skipped: boolean) {
  const s = { port: 0, p: undefined as PorticoProcess | undefined };
  if (skipped) return s;
  beforeAll(async () => {
    [s.port] = await freePorts(1);
    s.p = await startPorticoWith(runArgs(adapter, listener, s.port));
  });
  afterAll(() => s.p?.stop());
  return s;
}

/** curl arguments for `path` on `host`, trusting the book's CA, over TLS to `port`. */
const tls = (port: number, host: string, path: string, ca = book.webappCaChain) => [
  `https://${host}:${port}${path}`,
  "--cacert",
  ca,
  "--resolve",
  `${host}:${port}:127.0.0.1`,
];
const clientCert = ["--cert", book.webappClientCert, "--key", book.webappClientKey];
const clientPem = { cert: book.webappClientCert, key: book.webappClientKey };

/** Uploads 3 MiB and expects the same bytes back. */
async function expectUploadEchoed(args: string[], name: string) {
  const out = join(dir, `${name}.bin`);
  const body = ["--data-binary", `@${bodyFile}`, "-H", "content-type: application/octet-stream", "-o", out];
  const r = await curl([...args, ...body]);
  expect(r.status).toBe(200);
  expect(Buffer.compare(readFileSync(out), data)).toBe(0);
}

/** Bytes that are not TLS: the server must close the connection promptly, sending nothing. */
async function expectNotTlsClosedFast(port: number) {
  const r = await exchange(port, "GET / HTTP/1.1\r\nhost: x\r\n\r\n", { halfClose: false, timeoutMs: 3_000 });
  expect(r.how).not.toBe("timeout");
  expect(r.ms).toBeLessThan(1_000);
  expect(r.data.length).toBe(0);
}

/** Two requests on one curl command line: the second must reuse the first's connection. */
async function expectKeepAlive(args: string[]) {
  const r = await curl(["-v", ...args]);
  expect(r.stderr).toContain("Re-using existing connection");
  expect(r.stderr).not.toContain("Connection died");
}

/**
 * One WebSocket echo through Portico (the `ws` package against the echo upstream's `ws` server),
 * or, where the adapter cannot tunnel and the routes say `websocket: false`, Envoy's 403.
 */
async function expectWebSocketEcho(adapter: string, url: string, options: ClientOptions = {}) {
  const ws = new WebSocket(url, { ...options, lookup: loopback } as ClientOptions);
  const outcome = await new Promise<string | number>((resolve, reject) => {
    ws.once("open", () => {
      ws.send("hello ws");
      ws.once("message", (data) => resolve(String(data)));
    });
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode!));
    ws.once("error", reject);
  });
  ws.terminate();
  expect(outcome).toBe(NO_WEBSOCKET.has(adapter) ? 403 : "hello ws");
}

function loopback(_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void): void {
  if (opts.all) cb(null, [{ address: "127.0.0.1", family: 4 }]);
  else cb(null, "127.0.0.1", 4);
}

/** SHA-256 hex of the certificate's DER, as x-forwarded-client-cert's Hash carries it. */
const derHash = (pemFile: string) =>
  createHash("sha256")
    .update(new X509Certificate(readFileSync(pemFile)).raw)
    .digest("hex");

/**
 * Every RFC 3986 sub-delimiter, ":@/?" and escapes (one of them of an unreserved letter, which
 * only the path would decode): the raw upstream must see exactly this.
 */
const RAW_TARGET_QUERY = "?s=it's&q=!$&'()*+,;=:@/?%27%2F%41%25&p=%2e%2E/../";

/** Sends `/raw/<marker><RAW_TARGET_QUERY>` with curl `args` (URL built by `url`); checks the upstream. */
async function expectRawQuery(url: (target: string) => string[], args: string[] = []) {
  const marker = crypto.randomUUID();
  const target = `/raw/${marker}${RAW_TARGET_QUERY}`;
  const r = await curl(["--path-as-is", "-g", ...args, ...url(target)]);
  expect(r.status).toBe(200);
  expect(raw.targetWith(marker)).toBe(target);
}

/** Whether the upstream saw a request carrying `marker`. */
const upstreamSaw = (marker: string) => echo.seen.some((x) => x.url.includes(marker));

describe(`adapters on ${RUNTIME}`, () => {
  for (const adapter of Object.keys(RUNS_ON).filter((a) => !(a in EXPECTED[RUNTIME]))) {
    test(`${adapter} does not run on ${RUNTIME}: Portico says so and does not start`, async () => {
      const [port] = await freePorts(1);
      const r = await runPortico(runArgs(adapter, "plain", port!), 10_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`adapter ${adapter} runs on ${RUNS_ON[adapter]}, not on ${RUNTIME}`);
    });
  }
});

for (const [adapter, expected] of Object.entries(EXPECTED[RUNTIME])) {
  const cannot = expected.cannot ?? {};
  const defect = expected.defect ?? {};
  describe(`${adapter} on ${RUNTIME}: refusals and known defects`, () => {
    for (const [listener, reason] of Object.entries(cannot)) {
      test(`a ${listener} listener is refused at startup: ${reason}`, async () => {
        const [port] = await freePorts(1);
        const r = await runPortico(runArgs(adapter, listener as Listener, port!), 10_000);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(REFUSAL[listener as Listener]!);
        expect(r.stderr).toContain(`which adapter ${adapter} cannot honour`);
      });
    }
    if (NO_WEBSOCKET.has(adapter)) {
      test("a listener whose routes forward WebSocket upgrades is refused at startup", async () => {
        const [port] = await freePorts(1);
        const r = await runPortico(runArgs(adapter, "plain", port!, true), 10_000);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('listener "web" needs WebSocket upgrades as a byte tunnel');
        expect(r.stderr).toContain(`which adapter ${adapter} cannot honour`);
      });
    }
    if (NO_RAW_TARGET.has(adapter)) {
      test("a listener that must forward the request-target as sent (the default) is refused", async () => {
        const [port] = await freePorts(1);
        const r = await runPortico(runArgs(adapter, "plain", port!, false, true), 10_000);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('listener "web" needs the request-target exactly as sent');
        expect(r.stderr).toContain(`which adapter ${adapter} cannot honour`);
      });
    }
    for (const [listener, reason] of Object.entries(defect)) {
      // Fails today; when the defect is fixed this turns red: then drop the entry from EXPECTED.
      test.failing(`a ${listener} listener is served (known defect: ${reason})`, async () => {
        const [port] = await freePorts(1);
        const p = await startPorticoWith(runArgs(adapter, listener as Listener, port!));
        await p.stop();
      });
    }
  });

  /** describe(), or describe.skip() naming the reason when the adapter cannot serve the listener. */
  const block = (listener: Listener) => {
    const reason = cannot[listener] ?? (defect[listener] && `has a known defect: ${defect[listener]}`);
    const skip = (name: string, fn: () => void) =>
      describe.skip(`${name} — skipped: ${adapter} ${reason}`, fn);
    return { describe: reason ? skip : describe, skipped: reason !== undefined };
  };
  /** test(), or test.failing() for a case this adapter is known to get wrong on this runtime. */
  const it = (name: string, fn: () => Promise<void> | void) => {
    const why = expected.failing?.[name];
    return why ? test.failing(`${name} (known to fail: ${why})`, fn) : test(name, fn);
  };

  block("plain").describe(`${adapter} on ${RUNTIME}: plain HTTP listener`, () => {
    const s = serving(adapter, "plain", block("plain").skipped);
    const url = (path: string) => `http://127.0.0.1:${s.port}${path}`;

    test("the listener is served by the adapter asked for", () => {
      expect(s.p!.output()).toContain(`listener web on 127.0.0.1:${s.port} HTTP [${adapter}]`);
    });

    test("a request reaches the upstream, with the client's scheme and address", async () => {
      const marker = crypto.randomUUID();
      const r = await curl([url(`/plain?m=${marker}`), "-H", "Host: plain.example"]);
      expect(r.status).toBe(200);
      expect(r.headers.get("server")).toBe("portico");
      const seen = echo.seen.find((x) => x.url === `/plain?m=${marker}`);
      expect(seen?.headers["x-forwarded-proto"]).toBe("http");
      expect(seen?.headers["x-forwarded-for"]).toBe("127.0.0.1");
    });

    test("HTTP/1.1 keep-alive: two requests on one connection", async () => {
      await expectKeepAlive([url("/a"), url("/b")]);
    });

    test("a 3 MiB body streams to the upstream and back", async () => {
      await expectUploadEchoed([url("/upload")], `plain-${adapter}`);
    });

    test("a WebSocket echo", async () => {
      await expectWebSocketEcho(adapter, `ws://127.0.0.1:${s.port}/ws`);
    });

    it(RAW_QUERY, async () => {
      await expectRawQuery((target) => [url(target)]);
    });
  });

  block("any-sni").describe(`${adapter} on ${RUNTIME}: HTTPS, one "*" server`, () => {
    const s = serving(adapter, "any-sni", block("any-sni").skipped);

    test("the listener is served by the adapter asked for", () => {
      expect(s.p!.output()).toContain(`listener web on 127.0.0.1:${s.port} HTTPS [${adapter}]`);
    });

    test("h2 and HTTP/1.1 over TLS, each negotiated by ALPN", async () => {
      for (const [flag, version] of [
        ["--http2", "2"],
        ["--http1.1", "1.1"],
      ] as const) {
        const r = await curl([flag, ...tls(s.port, HOST_WEBAPP, "/alpn")]);
        expect(r.status).toBe(200);
        expect(r.httpVersion).toBe(version);
        expect(JSON.parse(r.body).headers["x-forwarded-proto"]).toBe("https");
      }
    });

    test("a WebSocket echo over TLS", async () => {
      const ca = readFileSync(book.webappCaChain);
      await expectWebSocketEcho(adapter, `wss://${HOST_WEBAPP}:${s.port}/ws`, { ca });
    });

    test('no SNI at all is served by the "*" server', async () => {
      const r = await curl(["-k", `https://127.0.0.1:${s.port}/no-sni`]);
      expect(r.status).toBe(200);
    });

    it(TLS_KEEP_ALIVE, async () => {
      const second = `https://${HOST_WEBAPP}:${s.port}/b`;
      await expectKeepAlive(["--http1.1", ...tls(s.port, HOST_WEBAPP, "/a"), second]);
    });

    test("a 3 MiB body streams to the upstream and back, over h2 and HTTP/1.1", async () => {
      for (const flag of ["--http2", "--http1.1"]) {
        await expectUploadEchoed([flag, ...tls(s.port, HOST_WEBAPP, "/upload")], `tls${flag}-${adapter}`);
      }
    });

    test("TLS 1.1 is refused, TLS 1.2 and 1.3 complete; the client can offer TLS 1.1", async () => {
      const control = await tls11Server(book.webappCert, book.webappKey);
      try {
        const old = await handshake(control.port, { servername: HOST_WEBAPP, version: "1.1" });
        expect(old.protocol).toBe("TLSv1.1");
      } finally {
        control.stop();
      }
      expect((await handshake(s.port, { servername: HOST_WEBAPP, version: "1.1" })).ok).toBe(false);
      for (const version of ["1.2", "1.3"] as const) {
        const h = await handshake(s.port, { servername: HOST_WEBAPP, version });
        expect(h.ok).toBe(true);
        expect(h.protocol).toBe(`TLSv${version}`);
      }
    });

    test("bytes that are not TLS: the connection is closed at once", async () => {
      await expectNotTlsClosedFast(s.port);
    });

    it(RAW_QUERY_H2, async () => {
      for (const flag of ["--http2", "--http1.1"]) {
        await expectRawQuery((target) => tls(s.port, HOST_WEBAPP, target), [flag]);
      }
    });
  });

  block("grpc").describe(`${adapter} on ${RUNTIME}: HTTPS with a route to a gRPC (h2c) upstream`, () => {
    const s = serving(adapter, "grpc", block("grpc").skipped);
    let client: Client;
    beforeAll(() => {
      const creds = grpc.credentials.createSsl(readFileSync(book.webappCaChain));
      client = new pkg.echo.Echo(`127.0.0.1:${s.port}`, creds, {
        "grpc.ssl_target_name_override": HOST_WEBAPP,
      });
    });
    afterAll(() => client?.close());

    test("the listener is served by the adapter asked for", () => {
      expect(s.p!.output()).toContain(`listener web on 127.0.0.1:${s.port} HTTPS [${adapter}]`);
    });

    test("unary: the answer, and grpc-status with binary metadata from the trailers", async () => {
      const ok = await new Promise<Msg | undefined>((resolve, reject) =>
        client.Unary({ text: "a", n: 1 }, ((err, res) => (err ? reject(err) : resolve(res))) as Callback),
      );
      expect(ok).toEqual({ text: "h2c:a", n: 2 });
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.Unary({ text: "fail", n: 0 }, ((e) => resolve(e)) as Callback),
      );
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err?.metadata.get("detail-bin")[0]).toEqual(BINARY);
    });

    test("server streaming ends with its status", async () => {
      const got: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const call = client.ServerStream({ text: "s", n: 3 });
        call.on("data", (m: Msg) => got.push(m.text));
        call.on("error", reject);
        call.on("end", resolve);
      });
      expect(got).toEqual(["s0", "s1", "s2"]);
    });
  });

  const strict = `${adapter} on ${RUNTIME}: HTTPS, strict SNI, three certificates, one MUTUAL host`;
  block("strict-sni").describe(strict, () => {
    const s = serving(adapter, "strict-sni", block("strict-sni").skipped);

    test("the listener is served by the adapter asked for", () => {
      expect(s.p!.output()).toContain(`listener web on 127.0.0.1:${s.port} HTTPS [${adapter}]`);
    });

    test("each SNI gets its own certificate, over h2 and HTTP/1.1", async () => {
      for (const flag of ["--http2", "--http1.1"]) {
        const w = await curl(["-v", flag, ...tls(s.port, HOST_WEBAPP, "/w")]);
        expect(w.status).toBe(200);
        expect(w.stderr).toContain("CN=webapp.istioinaction.io");
        const c = await curl(["-v", flag, ...tls(s.port, HOST_CATALOG, "/c", book.catalogCaChain)]);
        expect(c.status).toBe(200);
        expect(c.stderr).toContain("CN=catalog.istioinaction.io");
      }
    });

    test("a WebSocket echo on a SIMPLE host and on the MUTUAL host", async () => {
      const ca = readFileSync(book.webappCaChain);
      await expectWebSocketEcho(adapter, `wss://${HOST_WEBAPP}:${s.port}/ws`, { ca });
      const cert = { cert: readFileSync(book.webappClientCert), key: readFileSync(book.webappClientKey) };
      await expectWebSocketEcho(adapter, `wss://${MTLS_HOST}:${s.port}/ws`, {
        rejectUnauthorized: false,
        ...cert,
      });
    });

    test("an unknown SNI and a missing SNI are refused in the handshake", async () => {
      expect((await curl(["-k", ...tls(s.port, "other.istioinaction.io", "/")])).exitCode).toBe(35);
      expect((await curl(["-k", `https://127.0.0.1:${s.port}/`])).exitCode).toBe(35);
    });

    test("MUTUAL: no client certificate, no response; the book's client certificate, 200", async () => {
      const refused = await curl([...tls(s.port, MTLS_HOST, "/m"), "-k"]);
      expect(refused.status).toBe(0);
      expect(refused.exitCode).not.toBe(0);
      const served = await curl([...tls(s.port, MTLS_HOST, "/m"), "-k", ...clientCert]);
      expect(served.status).toBe(200);
    });

    test("MUTUAL: the verified certificate reaches the upstream as XFCC, a forged one does not", async () => {
      const forged = ["-H", "x-forwarded-client-cert: By=spoofed"];
      const r = await curl([...tls(s.port, MTLS_HOST, "/xfcc"), "-k", ...clientCert, ...forged]);
      expect(r.status).toBe(200);
      const xfcc = JSON.parse(r.body).headers["x-forwarded-client-cert"];
      expect(xfcc).toStartWith(`Hash=${derHash(book.webappClientCert)};Subject="CN=webapp.istioinaction.io`);
      const simple = await curl([...tls(s.port, HOST_WEBAPP, "/xfcc"), ...forged]);
      expect(JSON.parse(simple.body).headers["x-forwarded-client-cert"]).toBeUndefined();
    });

    test(`MUTUAL: ${RAW_QUERY}, over h2 and HTTP/1.1`, async () => {
      for (const flag of ["--http2", "--http1.1"]) {
        await expectRawQuery((target) => [...tls(s.port, MTLS_HOST, target), "-k", ...clientCert], [flag]);
      }
    });

    test("MUTUAL: TLS 1.1 is refused even with a valid client certificate", async () => {
      const offer = (version: "1.1" | "1.2") =>
        handshake(s.port, { servername: MTLS_HOST, version, ...clientPem });
      expect((await offer("1.1")).ok).toBe(false);
      expect((await offer("1.2")).ok).toBe(true);
    });

    test("421 when the Host names the MUTUAL host after a SIMPLE handshake; no upstream asked", async () => {
      const marker = crypto.randomUUID();
      const path = `/misdirected?m=${marker}`;
      const r = await curl([...tls(s.port, HOST_WEBAPP, path), "-H", `Host: ${MTLS_HOST}`]);
      expect(r.status).toBe(421);
      expect(upstreamSaw(marker)).toBe(false);
    });

    test("bytes that are not TLS: the connection is closed at once", async () => {
      await expectNotTlsClosedFast(s.port);
    });

    if (adapter === "bun-sni") {
      test("the inner servers serve only what the SNI front piped: others get 421 or nothing", async () => {
        const inner = listeningPorts(s.p!.proc.pid!).filter((port) => port !== s.port);
        // One Bun.serve for both SIMPLE hosts (h2 clients; its certificate chosen by SNI); their
        // HTTP/1.1 clients, which may upgrade, and the MUTUAL host go to node:http2 in process.
        expect(inner.length).toBe(1);
        const statuses: number[] = [];
        for (const port of inner) {
          const marker = crypto.randomUUID();
          const direct = `https://127.0.0.1:${port}/direct?m=${marker}`;
          const r = await curl(["-k", direct, "-H", `Host: ${HOST_WEBAPP}`]);
          statuses.push(r.status);
          expect(upstreamSaw(marker)).toBe(false);
        }
        expect(statuses).toEqual([421]);
      });
    }
  });
}
