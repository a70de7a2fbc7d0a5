// The request target on its way to the upstream: the query byte for byte, the path normalised as
// Istio's pathNormalization level says (for matching and forwarding alike), over HTTP/1.1 and h2,
// to a plain and an HTTPS upstream. The upstreams are bare node:net / node:tls servers that record
// the request line as it arrived, so nothing on their side normalises anything. curl sends the
// target as written (--path-as-is, -g).
//
// Each level runs its own Portico on the runtime's default adapters, which with the default
// settings.requestTarget (exact) are adapters that see the raw target: on Bun that is node-http2,
// not Bun.serve, whose Request.url has been through WHATWG URL parsing. The last block shows what
// `requestTarget: whatwg` trades on Bun (docs/runtimes.md).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HOST_WEBAPP, book, bookCredentials } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { RUNTIME, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { RequestLineUpstream } from "../helpers/upstreams.ts";

/** Every RFC 3986 sub-delimiter, ":@/?", and escapes that must not be decoded or re-cased. */
const QUERY = "?s=it's&q=!$&'()*+,;=:@/?%27%2F%41%25%2e%2E/../&x=%7e%7E";
/** Dot segments (one spelt %2e), a double slash, an escaped unreserved letter, escaped / and \. */
const PATH = "/a/../b//c/%2e/%41%2F%5c'x";
const EXPECTED_PATH = {
  NONE: PATH,
  BASE: "/b//c/A%2F%5c'x",
  MERGE_SLASHES: "/b/c/A%2F%5c'x",
  DECODE_AND_MERGE_SLASHES: "/b/c/A/'x",
} as const;
type Level = keyof typeof EXPECTED_PATH;

let raw: RequestLineUpstream;
let rawTls: RequestLineUpstream;
beforeAll(async () => {
  raw = await new RequestLineUpstream().start();
  rawTls = await new RequestLineUpstream().start({ cert: book.webappCert, key: book.webappKey });
});
afterAll(async () => {
  await raw?.stop();
  await rawTls?.stop();
});

function config(level: Level, http: number, https: number, requestTarget = "exact"): string {
  return `settings:
  pathNormalization: ${level}
  requestTarget: ${requestTarget}
listeners:
  - { name: plain, address: 127.0.0.1, port: ${http}, protocol: HTTP }
  - name: secure
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:
      - hosts: ["*"]
        tls: { mode: SIMPLE, credential: webapp-credential }
${bookCredentials}
services:
  raw: http://127.0.0.1:${raw.port}
  raw-tls:
    url: https://127.0.0.1:${rawTls.port}
    tls: { ca: ${book.webappCaChain}, serverName: ${HOST_WEBAPP} }
routes:
  - hosts: ["*"]
    http:
      - match: [{ uri: { exact: /blocked } }]
        directResponse: { status: 403, body: blocked }
      - match: [{ uri: { prefix: /tls/ } }]
        route: [{ destination: raw-tls }]
      - match: [{ uri: { prefix: /old/ } }]
        rewrite: { uri: /new/ }
        route: [{ destination: raw }]
      - match: [{ uri: { prefix: /dbl } }]
        rewrite: { uri: / }
        route: [{ destination: raw }]
      - route: [{ destination: raw }]
`;
}

const VERSIONS = [
  ["HTTP/1.1", "--http1.1", "plain"],
  ["HTTP/1.1 over TLS", "--http1.1", "secure"],
  ["h2", "--http2", "secure"],
] as const;

for (const level of Object.keys(EXPECTED_PATH) as Level[]) {
  describe(`pathNormalization ${level} on ${RUNTIME}`, () => {
    let p: PorticoProcess | undefined;
    let http = 0;
    let https = 0;
    beforeAll(async () => {
      [http, https] = await freePorts(2);
      p = await startPorticoWith(["run", "-c", writeConfig(config(level, http!, https!)), "--admin", "off"]);
    });
    afterAll(() => p?.stop());

    /** curl for `target` (path and query, sent as written) on the listener `which`. */
    const send = (flag: string, which: "plain" | "secure", target: string) =>
      curl([
        flag,
        "--path-as-is",
        "-g",
        ...(which === "plain"
          ? [`http://127.0.0.1:${http}${target}`]
          : [
              `https://${HOST_WEBAPP}:${https}${target}`,
              "--cacert",
              book.webappCaChain,
              "--resolve",
              `${HOST_WEBAPP}:${https}:127.0.0.1`,
            ]),
      ]);
    for (const [name, flag, which] of VERSIONS) {
      test(`${name}: the query reaches the upstream byte for byte`, async () => {
        const marker = crypto.randomUUID();
        const r = await send(flag, which, `/q/${marker}${QUERY}`);
        expect(r.status).toBe(200);
        expect(raw.targetWith(marker)).toBe(`/q/${marker}${QUERY}`);
      });

      test(`${name}: the path is normalised as ${level} says, the query untouched`, async () => {
        const marker = crypto.randomUUID();
        const r = await send(flag, which, `/${marker}${PATH}?m=1`);
        expect(r.status).toBe(200);
        const want = level === "NONE" ? `/${marker}${PATH}?m=1` : `/${marker}${EXPECTED_PATH[level]}?m=1`;
        expect(raw.targetWith(marker)).toBe(want);
      });
    }

    test("an HTTPS upstream gets the query byte for byte", async () => {
      const marker = crypto.randomUUID();
      const r = await send("--http2", "secure", `/tls/${marker}${QUERY}`);
      expect(r.status).toBe(200);
      expect(rawTls.targetWith(marker)).toBe(`/tls/${marker}${QUERY}`);
    });

    test("a prefix rewrite keeps the query as sent", async () => {
      const marker = crypto.randomUUID();
      await send("--http1.1", "plain", `/old/${marker}${QUERY}`);
      expect(raw.targetWith(marker)).toBe(`/new/${marker}${QUERY}`);
    });

    test('a prefix rewrite that yields "//" reaches the upstream as "//" (Bun\'s fetch alone sent "/")', async () => {
      const marker = crypto.randomUUID();
      const r = await send("--http1.1", "plain", `/dbl/${marker}?m=1`);
      expect(r.status).toBe(200);
      expect(raw.targetWith(marker)).toBe(`//${marker}?m=1`);
    });

    test("served by an adapter that has the raw target (on Bun: not Bun.serve)", () => {
      const want = RUNTIME === "deno" ? "node-http2-pipe" : "node-http2";
      expect(p!.output()).toContain(`listener plain on 127.0.0.1:${http} HTTP [${want}]`);
      expect(p!.output()).toContain(`listener secure on 127.0.0.1:${https} HTTPS [${want}]`);
    });

    if (level === "NONE") {
      test("routes match the path as sent: /x/../blocked is not /blocked", async () => {
        const marker = crypto.randomUUID();
        const r = await send("--http1.1", "plain", `/x/../blocked?m=${marker}`);
        expect(r.status).toBe(200);
        expect(raw.targetWith(marker)).toBe(`/x/../blocked?m=${marker}`);
      });
      test("%00 in the path is forwarded as sent", async () => {
        const marker = crypto.randomUUID();
        const r = await send("--http1.1", "plain", `/a%00b?m=${marker}`);
        expect(r.status).toBe(200);
        expect(raw.targetWith(marker)).toBe(`/a%00b?m=${marker}`);
      });
    } else {
      test("routes match the normalised path: /x/../blocked and /x/%2e%2e/blocked are /blocked", async () => {
        for (const [flag, which] of [
          ["--http1.1", "plain"],
          ["--http2", "secure"],
        ] as const) {
          for (const target of ["/x/../blocked", "/x/%2e%2E/blocked", "/x/..\\blocked", "/%62locked"]) {
            const r = await send(flag, which, target);
            expect([target, r.status, r.body]).toEqual([target, 403, "blocked"]);
          }
        }
      });
      test("a path Envoy cannot normalise (%00) is answered 400, the upstream not asked", async () => {
        const marker = crypto.randomUUID();
        for (const [flag, which] of [
          ["--http1.1", "plain"],
          ["--http2", "secure"],
        ] as const) {
          const r = await send(flag, which, `/a%00b?m=${marker}`);
          expect(r.status).toBe(400);
        }
        expect(raw.targetWith(marker)).toBeUndefined();
      });
    }
  });
}

// What `requestTarget: whatwg` trades on Bun: the Bun.serve adapters serve (h2 clients of a SIMPLE
// host reach Bun.serve), and the query arrives as WHATWG parsing re-encoded it. Elsewhere it
// changes nothing: node adapters always see the raw target.
describe(`requestTarget whatwg on ${RUNTIME}`, () => {
  let p: PorticoProcess | undefined;
  let http = 0;
  let https = 0;
  beforeAll(async () => {
    [http, https] = await freePorts(2);
    const text = config("BASE", http!, https!, "whatwg");
    p = await startPorticoWith(["run", "-c", writeConfig(text), "--admin", "off"]);
  });
  afterAll(() => p?.stop());

  test("the HTTPS listener goes to the fastest adapter; an h2 query is exact only off Bun.serve", async () => {
    expect(p!.output()).toContain(
      `listener secure on 127.0.0.1:${https} HTTPS [${RUNTIME === "bun" ? "bun-sni" : RUNTIME === "deno" ? "node-http2-pipe" : "node-http2"}]`,
    );
    const marker = crypto.randomUUID();
    const r = await curl([
      "--http2",
      "--path-as-is",
      "-g",
      `https://${HOST_WEBAPP}:${https}/q/${marker}?s=it's`,
      "--cacert",
      book.webappCaChain,
      "--resolve",
      `${HOST_WEBAPP}:${https}:127.0.0.1`,
    ]);
    expect(r.status).toBe(200);
    expect(raw.targetWith(marker)).toBe(`/q/${marker}?s=${RUNTIME === "bun" ? "it%27s" : "it's"}`);
  });
});
