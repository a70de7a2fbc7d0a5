// The access log's pieces without sockets: the JSON and Envoy-text lines, the writer's PIPE_BUF
// cutting, its bound (drop and count), the file it creates, the precedence of the command line
// over routes.yaml over Istio's documents, and what MeshConfig and Telemetry documents switch.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accessLogChoice } from "../../src/cli/access-log-setup.ts";
import { parseArgs } from "../../src/cli/args.ts";
import { composeConfig } from "../../src/config/sources/compose.ts";
import { connectionText, requestJson, requestText } from "../../src/observe/access-log.ts";
import { chunks, openLogWriter, PIPE_BUF } from "../../src/observe/log-writer.ts";
import type { ConnectionRecord, RequestRecord } from "../../src/observe/records.ts";
import { flagError, newRecord } from "../../src/http/request-record.ts";
import { HostTable } from "../../src/util/host-table.ts";
import {
  type ConfigIssue,
  NoHealthyUpstreamError,
  UpstreamOverflowError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from "../../src/util/errors.ts";

const record = (over: Partial<RequestRecord> = {}): RequestRecord => ({
  startTime: Date.UTC(2026, 10, 30, 12, 0, 0, 123),
  listener: "https",
  sni: "app.test",
  protocol: "HTTP/2",
  method: "GET",
  authority: "app.test",
  path: "/a?b=1",
  status: 503,
  flags: ["UF", "URX"],
  bytesReceived: 0,
  bytesSent: 91,
  durationMs: 12,
  upstreamHost: "10.0.0.1:8080",
  upstreamService: "app",
  upstreamServiceTimeMs: undefined,
  retries: 2,
  requestId: "rid",
  route: "r1",
  vhost: "*.test",
  peerSubject: 'CN=a "b"',
  peerUriSan: "spiffe://x/y",
  remoteAddress: "192.0.2.1",
  directRemoteAddress: "10.1.1.1",
  userAgent: "curl/8",
  forwardedFor: undefined,
  ...over,
});

describe("lines", () => {
  test("text: Envoy's default format, then Portico's fields; '-' for what is absent", () => {
    expect(requestText(record())).toBe(
      '[2026-11-30T12:00:00.123Z] "GET /a?b=1 HTTP/2" 503 UF,URX 0 91 12 - "-" "curl/8" "rid" ' +
        '"app.test" "10.0.0.1:8080" app 192.0.2.1 app.test r1 listener=https vhost=*.test retries=2 ' +
        'peer_subject="CN=a \\"b\\"" peer_uri_san=spiffe://x/y downstream_direct_remote_address=10.1.1.1',
    );
    expect(requestText(record({ flags: [] }), "1")).toContain(" 503 - 0 91 ");
    expect(requestText(record(), "1")).toEndWith(" worker=1");
  });

  test("text: a newline sent in a header cannot start a second line", () => {
    expect(requestText(record({ userAgent: "a\nb" }))).not.toContain("\n");
  });

  test("JSON: Istio's keys, null for absent values, the worker only when set", () => {
    const j = JSON.parse(requestJson(record()));
    expect(j).toMatchObject({
      start_time: "2026-11-30T12:00:00.123Z",
      response_code: 503,
      response_flags: "UF,URX",
      upstream_service_time: null,
      x_forwarded_for: null,
      requested_server_name: "app.test",
      route_name: "r1",
      peer_uri_san: "spiffe://x/y",
    });
    expect("worker" in j).toBe(false);
    expect(JSON.parse(requestJson(record(), "0")).worker).toBe("0");
  });

  test("TCP text line: '- - -' and code 0, as Envoy's tcp_proxy log", () => {
    const c: ConnectionRecord = {
      startTime: Date.UTC(2026, 0, 1),
      listener: "tcp",
      kind: "tcp",
      sni: undefined,
      upstreamHost: undefined,
      upstreamService: undefined,
      flags: ["UF"],
      bytesReceived: 3,
      bytesSent: 0,
      durationMs: 4,
      remoteAddress: "127.0.0.1",
    };
    expect(connectionText(c)).toBe(
      '[2026-01-01T00:00:00.000Z] "- - -" 0 UF 3 0 4 - "-" "-" "-" "-" "-" - 127.0.0.1 - - listener=tcp kind=tcp',
    );
  });
});

describe("flags and fields of a request record", () => {
  const flagsOf = (err: unknown) => {
    const rec = newRecord("l", new Request("http://a.test/"), { remoteAddress: "" }, 0);
    flagError(rec, err);
    return rec.flags.join(",");
  };
  test("failures in Envoy's terms: UT, UH, UO, UF (connect), UC (reset)", () => {
    expect(flagsOf(new UpstreamTimeoutError("t"))).toBe("UT");
    expect(flagsOf(new NoHealthyUpstreamError("n"))).toBe("UH");
    expect(flagsOf(new UpstreamOverflowError("overflow"))).toBe("UO");
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(flagsOf(new UpstreamUnavailableError("x", { cause: refused }))).toBe("UF");
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    expect(flagsOf(new UpstreamUnavailableError("x", { cause: reset }))).toBe("UC");
    expect(flagsOf(new Error("bug"))).toBe("");
  });

  test("the virtual host as configured: exact name, else the longest wildcard, else *", () => {
    const matchedPattern = (hosts: string[], host: string) => {
      const table = new HostTable<true>();
      for (const h of hosts) table.add(h, true);
      return table.pattern(host);
    };
    expect(matchedPattern(["*", "*.a.test", "*.test", "x.a.test"], "x.a.test")).toBe("x.a.test");
    expect(matchedPattern(["*", "*.test", "*.a.test"], "y.a.test")).toBe("*.a.test");
    expect(matchedPattern(["*", "*.test"], "other.example")).toBe("*");
    expect(matchedPattern(["b.test"], "other.example")).toBeUndefined();
  });

  test("HTTP/2 from ALPN unless the adapter says; the declared body length", () => {
    const req = new Request("http://a.test/", { method: "POST", body: "abc" });
    const tls = { serverName: "a.test", serverIndex: 0, alpn: "h2", peer: undefined };
    const rec = newRecord("l", req, { remoteAddress: "", tls }, 0);
    expect(rec.protocol).toBe("HTTP/2");
    expect(rec.sni).toBe("a.test");
    expect(newRecord("l", req, { remoteAddress: "", tls, protocol: "HTTP/1.1" }, 0).protocol).toBe(
      "HTTP/1.1",
    );
  });

  test("the client address: x-forwarded-for's trusted entry when the listener trusts proxies, else the peer", () => {
    const req = new Request("http://a.test/", {
      headers: { "x-forwarded-for": "203.0.113.9, 198.51.100.2" },
    });
    const peer = { remoteAddress: "10.0.0.5" };
    expect(newRecord("l", req, peer, 0)).toMatchObject({
      remoteAddress: "10.0.0.5",
      directRemoteAddress: "10.0.0.5",
    });
    expect(newRecord("l", req, peer, 1)).toMatchObject({
      remoteAddress: "198.51.100.2",
      directRemoteAddress: "10.0.0.5",
    });
    expect(newRecord("l", req, peer, 2).remoteAddress).toBe("203.0.113.9");
    expect(newRecord("l", req, peer, 3).remoteAddress).toBe("10.0.0.5");
  });
});

describe("the writer", () => {
  test("writes whole lines, at most PIPE_BUF bytes a write; a longer line goes alone", () => {
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${"é".repeat(i % 50)}`);
    lines.splice(100, 0, "x".repeat(PIPE_BUF + 10));
    const out = [...chunks(lines)];
    const dec = new TextDecoder();
    expect(out.map((c) => dec.decode(c)).join("")).toBe(lines.map((l) => `${l}\n`).join(""));
    for (const c of out) {
      expect(c[c.length - 1]).toBe(0x0a);
      if (c.length > PIPE_BUF) expect(dec.decode(c)).toBe(`${"x".repeat(PIPE_BUF + 10)}\n`);
    }
    expect(out.length).toBeGreaterThan(3);
  });

  test("a file: appended, created 0640, everything written by close()", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "portico-al-")), "a.log");
    const w = openLogWriter(path);
    for (let i = 0; i < 5000; i++) w.write(`{"n":${i}}`);
    await w.close();
    const again = openLogWriter(path);
    again.write("last");
    await again.close();
    const text = readFileSync(path, "utf8").split("\n");
    expect(text.length).toBe(5002);
    expect(text[4999]).toBe('{"n":4999}');
    expect(text[5000]).toBe("last");
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  test("full: new lines are dropped and counted, with one notice per interval", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "portico-al-")), "b.log");
    const notices: string[] = [];
    const w = openLogWriter(path, { maxBytes: 100, notice: (m) => notices.push(m) });
    const kept = Array.from({ length: 20 }, (_, i) => w.write(`line-${i}`)).filter(Boolean).length;
    expect(kept).toBeLessThan(20);
    expect(w.dropped()).toBe(20 - kept);
    expect(notices.length).toBe(1);
    await w.close();
    expect(readFileSync(path, "utf8").split("\n").length - 1).toBe(kept);
  });
});

describe("configuration", () => {
  const compose = (...texts: string[]) => {
    const warnings: ConfigIssue[] = [];
    const files = texts.map((_, i) => `f${i}.yaml`);
    const config = composeConfig(
      files,
      texts.map((text, i) => ({ file: files[i]!, text })),
      { warn: (w) => warnings.push(w) },
    );
    return { accessLog: config.settings.accessLog, warnings: warnings.map((w) => w.message) };
  };
  const routes = (settings = "") => `
${settings}
listeners: [{ name: web, port: 8080, protocol: HTTP }]
routes: [{ hosts: ["*"], http: [{ directResponse: { status: 200 } }] }]
`;
  const operator = (mesh: string) => `
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: { name: x }
spec:
  meshConfig: ${mesh}
`;
  const telemetry = (disabled: boolean, provider = "envoy") => `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: t }
spec:
  accessLogging: [{ providers: [{ name: ${provider} }], disabled: ${disabled} }]
`;

  test("settings.accessLog: a string, or a mapping with path and format", () => {
    expect(compose(routes("settings: { accessLog: off }")).accessLog).toEqual({ path: "off" });
    expect(compose(routes("settings: { accessLog: { path: /tmp/a.log, format: text } }")).accessLog).toEqual({
      path: "/tmp/a.log",
      format: "text",
    });
    expect(() => compose(routes("settings: { accessLog: { format: xml } }"))).toThrow(/format/);
    expect(compose(routes()).accessLog).toBeUndefined();
  });

  test("IstioOperator meshConfig and the istio ConfigMap; everything else is a notice", () => {
    const op = compose(
      routes(),
      operator(
        "{ accessLogFile: /dev/stdout, accessLogEncoding: TEXT, accessLogFormat: '%START_TIME%', enableTracing: true }",
      ),
    );
    expect(op.accessLog).toEqual({ path: "stdout", format: "text" });
    expect(op.warnings.join("\n")).toContain("ignored: Portico writes its own fields");
    expect(op.warnings.join("\n")).toContain(
      "ignored (only meshConfig.accessLogFile, accessLogEncoding and defaultConfig.gatewayTopology.numTrustedProxies are read)",
    );
    expect(compose(routes(), operator('{ accessLogFile: "" }')).accessLog).toEqual({ path: "off" });
    const cm = compose(
      routes(),
      `
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    accessLogFile: /var/log/gw.log
    accessLogEncoding: JSON
`,
    );
    expect(cm.accessLog).toEqual({ path: "/var/log/gw.log", format: "json" });
    const other = compose(routes(), "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: {}\n");
    expect(other.accessLog).toBeUndefined();
    expect(other.warnings.join("\n")).toContain('ConfigMap "app" ignored');
  });

  test("Telemetry switches the envoy provider on (to MeshConfig's file, else stdout) or off", () => {
    expect(compose(routes(), telemetry(true)).accessLog).toEqual({ path: "off" });
    expect(compose(routes(), telemetry(false)).accessLog).toEqual({ path: "stdout" });
    expect(
      compose(routes(), operator("{ accessLogFile: /tmp/m.log, accessLogEncoding: TEXT }"), telemetry(false))
        .accessLog,
    ).toEqual({ path: "/tmp/m.log", format: "text" });
    const otel = compose(routes(), telemetry(true, "otel"));
    expect(otel.accessLog).toBeUndefined();
    expect(otel.warnings.join("\n")).toContain('provider "otel" ignored');
  });

  test("precedence: command line > routes.yaml settings > Istio documents > default", () => {
    const c = compose(routes("settings: { accessLog: { format: text } }"), telemetry(true));
    expect(c.accessLog).toEqual({ path: "off", format: "text" });
    const both = compose(routes("settings: { accessLog: stderr }"), telemetry(true));
    expect(both.accessLog).toEqual({ path: "stderr" });
    const none = { accessLog: undefined, accessLogFormat: undefined };
    expect(accessLogChoice(none, undefined)).toEqual({ path: "stdout", format: "json" });
    expect(accessLogChoice(none, both.accessLog)).toEqual({ path: "stderr", format: "json" });
    const cli = parseArgs([
      "run",
      "--access-log",
      "off",
      "--access-log-format",
      "text",
      "--log-format",
      "json",
    ]);
    expect(cli.logFormat).toBe("json");
    expect(accessLogChoice(cli, both.accessLog)).toEqual({ path: "off", format: "text" });
    expect(() => parseArgs(["run", "--access-log-format", "xml"])).toThrow(/json or text/);
    expect(() => parseArgs(["run", "--log-format", "yaml"])).toThrow(/text or json/);
  });
});
