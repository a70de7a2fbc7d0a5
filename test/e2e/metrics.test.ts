// GET /metrics on the admin listener: the text exposition parses, TLS handshakes are counted by
// outcome and failure reason through real clients, the active-connections gauge follows an open
// connection, the certificate-expiry gauge equals the book certificate's notAfter, and SIGHUP
// reloads (good and bad) move the reload counters and the config generation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { writeFileSync } from "node:fs";
import { HOST_WEBAPP, book, bookCredentials } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import { RUNTIME, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";
import { ADAPTERS } from "../../src/listeners/select.ts";
import { parseExposition, sampleValue, type Exposition } from "../helpers/prom-text.ts";
import { handshake } from "../helpers/tls-client.ts";
import { EchoUpstream } from "../helpers/upstreams.ts";

let p: PorticoProcess, admin: number, https: number, mtls: number, pinned: number, web: number, file: string;
let hanging: EchoUpstream;

const config = (extra = "") => `listeners:
  - name: https
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { credential: webapp-credential }
  - name: mtls
    address: 127.0.0.1
    port: ${mtls}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { mode: MUTUAL, credential: webapp-credential-mtls }
  - name: pinned
    address: 127.0.0.1
    port: ${pinned}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { mode: MUTUAL, credential: webapp-credential-mtls, subjectAltNames: [spiffe://nobody.test/x] }
  - { name: web, address: 127.0.0.1, port: ${web}, protocol: HTTP }
${bookCredentials}
services:
  hanging: http://127.0.0.1:${hanging.port}
routes:
  - hosts: ["*"]
    http:
      - match: [{ uri: { prefix: /hang } }]
        route: [{ destination: hanging }]
      - directResponse: { status: 200, body: "ok" }
${extra}`;

async function scrape(port = admin): Promise<Exposition> {
  const r = await curl([`http://127.0.0.1:${port}/metrics`]);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(r.body);
}

/** Scrapes until `name{labels}` reaches `want` (bounded); the last value seen. */
async function until(
  name: string,
  labels: Record<string, string>,
  want: number,
  port = admin,
): Promise<number | undefined> {
  let v: number | undefined;
  for (let i = 0; i < 40; i++) {
    v = sampleValue(await scrape(port), name, labels);
    if (v === want) break;
    await sleep(50);
  }
  return v;
}

const failures = (reason: string, listener = "https") => ({ listener, reason });
const webapp = (port: number, extra: string[] = []) =>
  curl([
    "--cacert",
    book.webappCaChain,
    "--resolve",
    `${HOST_WEBAPP}:${port}:127.0.0.1`,
    ...extra,
    `https://${HOST_WEBAPP}:${port}/`,
  ]);

beforeAll(async () => {
  [https, mtls, pinned, web, admin] = (await freePorts(5)) as [number, number, number, number, number];
  hanging = await new EchoUpstream().start();
  file = writeConfig(config());
  p = await startPorticoWith(["run", "-c", file, "--admin", `127.0.0.1:${admin}`]);
});
afterAll(async () => {
  await p?.stop();
  await hanging?.stop();
});

describe("GET /metrics", () => {
  test("is Prometheus text with HELP and TYPE for every family, in the portico_ scheme", async () => {
    const e = await scrape();
    const ours = [...e.types.keys()].filter((n) => n.startsWith("portico_"));
    expect(ours.length).toBeGreaterThan(20);
    for (const n of ours) expect(e.help.get(n)).toBeTruthy();
    for (const [n, t] of e.types) if (t === "counter") expect(n).toEndWith("_total");
    // The process collectors work on this runtime too.
    expect(sampleValue(e, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(sampleValue(e, "process_open_fds")).toBeGreaterThan(0);
  });

  test("?format=json is prom-client's JSON, for the --workers supervisor", async () => {
    const r = await curl([`http://127.0.0.1:${admin}/metrics?format=json`]);
    const json = JSON.parse(r.body) as { name: string; type: string; values: unknown[] }[];
    expect(json.find((m) => m.name === "portico_config_generation")).toMatchObject({
      type: "gauge",
      values: [{ value: expect.any(Number) }],
    });
  });

  test("the expiry gauge is the credential's notAfter, and the first expiry in days", async () => {
    const e = await scrape();
    const out = spawnSync("openssl", [
      "x509",
      "-enddate",
      "-noout",
      "-in",
      book.webappCert,
    ]).stdout.toString();
    const notAfter = Date.parse(out.trim().replace("notAfter=", "")) / 1000;
    expect(notAfter).toBe(Date.parse("2041-06-29T12:49:32Z") / 1000);
    expect(
      sampleValue(e, "portico_certificate_expiry_timestamp_seconds", { credential: "webapp-credential" }),
    ).toBe(notAfter);
    const first = e.samples.filter((s) => s.name === "portico_certificate_first_expiry_days");
    expect(first).toHaveLength(1);
    const soonest = Math.min(
      ...e.samples
        .filter((s) => s.name === "portico_certificate_expiry_timestamp_seconds")
        .map((s) => s.value),
    );
    expect(first[0]!.value).toBe(Math.floor((soonest * 1000 - Date.now()) / 86_400_000));
  });
});

describe("TLS handshakes", () => {
  test("a good handshake counts; no SNI and an unknown SNI are failures by reason", async () => {
    // On Bun, h2 is served by Bun.serve behind the SNI front (bun-sni), HTTP/1.1 by node:https.
    expect((await webapp(https, ["--http2"])).httpVersion).toBe("2");
    expect((await webapp(https, ["--http1.1"])).httpVersion).toBe("1.1");
    expect(await until("portico_tls_handshakes_total", { listener: "https" }, 2)).toBe(2);
    expect((await handshake(https, { version: "1.3" })).ok).toBe(false);
    expect(await until("portico_tls_handshake_failures_total", failures("no_sni"), 1)).toBe(1);
    expect((await handshake(https, { version: "1.3", servername: "nope.example" })).ok).toBe(false);
    expect(await until("portico_tls_handshake_failures_total", failures("unknown_sni"), 1)).toBe(1);
  }, 20_000);

  test("bytes that are not a ClientHello are a protocol failure", async () => {
    await new Promise<void>((resolve, reject) => {
      const s = connect(https, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
      s.on("error", reject);
      s.on("close", () => resolve());
      s.resume();
    });
    expect(await until("portico_tls_handshake_failures_total", failures("protocol"), 1)).toBe(1);
    // A ClientHello cut short: the record header promises 512 bytes, the client leaves after 5.
    const s = connect(https, "127.0.0.1", () => s.end(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])));
    s.resume();
    await new Promise((resolve) => s.once("close", resolve));
    expect(await until("portico_tls_handshake_failures_total", failures("protocol"), 2)).toBe(2);
    // A connection that sends nothing (a load balancer's TCP check) is no handshake at all.
    const quiet = connect(https, "127.0.0.1", () => quiet.end());
    quiet.resume();
    await new Promise((resolve) => quiet.once("close", resolve));
    await sleep(100);
    expect(sampleValue(await scrape(), "portico_tls_handshake_failures_total", failures("protocol"))).toBe(2);
  });

  test("MUTUAL: no client certificate, and one from another CA, by reason", async () => {
    expect((await webapp(mtls)).exitCode).not.toBe(0);
    expect(
      await until("portico_tls_handshake_failures_total", failures("client_cert_missing", "mtls"), 1),
    ).toBe(1);
    const other = await webapp(mtls, ["--cert", book.catalogClientCert, "--key", book.catalogClientKey]);
    expect(other.exitCode).not.toBe(0);
    expect(
      await until("portico_tls_handshake_failures_total", failures("client_cert_untrusted", "mtls"), 1),
    ).toBe(1);
    const good = await webapp(mtls, ["--cert", book.webappClientCert, "--key", book.webappClientKey]);
    expect(good.status).toBe(200);
    expect(await until("portico_tls_handshakes_total", { listener: "mtls" }, 1)).toBe(1);
  }, 20_000);

  test("MUTUAL with subjectAltNames: a trusted certificate the pin refuses is client_cert_rejected", async () => {
    const r = await webapp(pinned, ["--cert", book.webappClientCert, "--key", book.webappClientKey]);
    expect(r.status).toBe(0);
    expect(
      await until("portico_tls_handshake_failures_total", failures("client_cert_rejected", "pinned"), 1),
    ).toBe(1);
    expect(
      sampleValue(await scrape(), "portico_tls_handshakes_total", { listener: "pinned" }),
    ).toBeUndefined();
  }, 20_000);
});

describe("connections", () => {
  test("the active gauge counts an open connection until it closes", async () => {
    const labels = { listener: "https" };
    const before = sampleValue(await scrape(), "portico_downstream_connections_active", labels) ?? 0;
    const total = sampleValue(await scrape(), "portico_downstream_connections_total", labels) ?? 0;
    const s = connect(https, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    expect(await until("portico_downstream_connections_active", labels, before + 1)).toBe(before + 1);
    expect(sampleValue(await scrape(), "portico_downstream_connections_total", labels)).toBe(total + 1);
    s.destroy();
    expect(await until("portico_downstream_connections_active", labels, before)).toBe(before);
  });
});

describe("requests", () => {
  test("the in-flight gauge counts a request until its client gives up", async () => {
    const labels = { listener: "web" };
    const abort = new AbortController();
    const pending = fetch(`http://127.0.0.1:${web}/hang`, { signal: abort.signal }).catch(() => undefined);
    expect(await until("portico_http_requests_active", labels, 1)).toBe(1);
    abort.abort();
    await pending;
    expect(await until("portico_http_requests_active", labels, 0)).toBe(0);
  }, 20_000);
});

describe("reloads", () => {
  test("SIGHUP: a good reload raises the generation, a bad one counts as a failure and keeps it", async () => {
    let e = await scrape();
    expect(sampleValue(e, "portico_config_generation")).toBe(1);
    expect(sampleValue(e, "portico_config_reloads_total", { result: "success" })).toBe(0);
    const started = sampleValue(e, "portico_config_last_reload_success_timestamp_seconds")!;
    expect(Math.abs(started - Date.now() / 1000)).toBeLessThan(120);
    p.proc.kill("SIGHUP");
    expect(await until("portico_config_reloads_total", { result: "success" }, 1)).toBe(1);
    e = await scrape();
    expect(sampleValue(e, "portico_config_generation")).toBe(2);
    expect(sampleValue(e, "portico_config_last_reload_successful")).toBe(1);
    expect(sampleValue(e, "portico_config_last_reload_success_timestamp_seconds")).toBeGreaterThanOrEqual(
      started,
    );

    writeFileSync(file, config("  - this is not a route"));
    p.proc.kill("SIGHUP");
    expect(await until("portico_config_reloads_total", { result: "failure" }, 1)).toBe(1);
    e = await scrape();
    expect(sampleValue(e, "portico_config_generation")).toBe(2);
    expect(sampleValue(e, "portico_config_last_reload_successful")).toBe(0);
    writeFileSync(file, config());
  }, 20_000);
});

// Every adapter of this runtime that can refuse an unknown SNI reports the same events: Bun's
// bun-sni (h2 on Bun.serve, HTTP/1.1 on node:https), Deno's node-http2-pipe, node-http2.
const strict = ADAPTERS.filter((a) => a.runtimes.includes(RUNTIME) && !a.cannot.includes("strictSni"));
describe.each(strict.map((a) => a.name))("--adapter %s", (adapter) => {
  test("handshakes and connections are reported", async () => {
    const [port, adminPort] = (await freePorts(2)) as [number, number];
    const q = await startPorticoWith([
      "run",
      "-c",
      writeConfig(`listeners:
  - name: https
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { credential: webapp-credential }
${bookCredentials}
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: "ok" }
settings: { requestTarget: whatwg }
`),
      "--admin",
      `127.0.0.1:${adminPort}`,
      "--adapter",
      adapter,
    ]);
    try {
      expect(q.output()).toContain(`[${adapter}]`);
      expect((await webapp(port, ["--http2"])).httpVersion).toBe("2");
      expect((await webapp(port, ["--http1.1"])).httpVersion).toBe("1.1");
      const https = { listener: "https" };
      expect(await until("portico_tls_handshakes_total", https, 2, adminPort)).toBe(2);
      expect((await handshake(port, { version: "1.3", servername: "nope.example" })).ok).toBe(false);
      const unknown = { ...https, reason: "unknown_sni" };
      expect(await until("portico_tls_handshake_failures_total", unknown, 1, adminPort)).toBe(1);
      expect(await until("portico_downstream_connections_total", https, 3, adminPort)).toBe(3);
      expect(await until("portico_downstream_connections_active", https, 0, adminPort)).toBe(0);
    } finally {
      await q.stop();
    }
  }, 20_000);
});
