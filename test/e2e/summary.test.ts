// The startup summary: one line per listener (address, kind, adapter, hosts, per TLS server its
// mode, credential and days left), the admin URL, and the counts; one JSON object per line with
// --log-format json.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HOST_WEBAPP, bookCredentials } from "../helpers/book.ts";
import { freePorts } from "../helpers/net.ts";
import { startPorticoWith, writeConfig } from "../helpers/portico.ts";

// The book's webapp certificate expires 2041-06-29T12:49:32Z.
const daysLeft = () => Math.floor((Date.parse("2041-06-29T12:49:32Z") - Date.now()) / 86_400_000);

const config = (http: number, https: number, tcp: number) => `listeners:
  - { name: web, address: 127.0.0.1, port: ${http}, protocol: HTTP }
  - name: tls
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:
      - hosts: [${HOST_WEBAPP}]
        tls: { credential: webapp-credential }
  - { name: db, address: 127.0.0.1, port: ${tcp}, protocol: TCP }
services:
  discard: tcp://127.0.0.1:9
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: { string: "ok" } }
    tcp:
      - match: [{ port: ${tcp} }]
        route: [{ destination: discard }]
${bookCredentials}
`;

// --warn-days beyond the certificate's life: one warning, counted in the summary.
const start = async (extra: string[]) => {
  const [http, https, tcp, admin] = (await freePorts(4)) as [number, number, number, number];
  const file = writeConfig(config(http, https, tcp));
  const args = ["run", "-c", file, "--admin", `127.0.0.1:${admin}`, "--warn-days", "99999", ...extra];
  return { p: await startPorticoWith(args), http, https, tcp, admin, file };
};

describe("startup summary, text", () => {
  let s: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    s = await start([]);
  });
  afterAll(() => s?.p.stop());

  test("a line per listener with its hosts; TLS servers with mode, credential and days left", () => {
    const out = s.p.output();
    expect(out).toMatch(new RegExp(`listener web on 127.0.0.1:${s.http} HTTP \\[[a-z0-9-]+\\]: \\*\n`));
    expect(out).toMatch(
      new RegExp(
        `listener tls on 127.0.0.1:${s.https} HTTPS \\[[a-z0-9-]+\\]: ` +
          `${HOST_WEBAPP.replaceAll(".", "\\.")} \\(SIMPLE, webapp-credential, (${daysLeft()}|${daysLeft() - 1}) days left\\)\n`,
      ),
    );
    expect(out).toMatch(
      new RegExp(`listener db on 127.0.0.1:${s.tcp} TCP \\[node-tcp\\]: to discard 127.0.0.1:9\n`),
    );
  });

  test("the admin URL with its endpoints, then the counts", () => {
    const out = s.p.output();
    expect(out).toContain(
      `admin on http://127.0.0.1:${s.admin} (/healthz, /certs, /upstreams, /metrics, /config, POST /reload)\n`,
    );
    expect(out).toContain(`serving ${s.file}: 3 listeners, 1 worker, 1 warning\n`);
    expect(out.indexOf("listener db")).toBeLessThan(out.indexOf(" serving "));
  });
});

describe("startup summary, --log-format json", () => {
  let s: Awaited<ReturnType<typeof start>>;
  let lines: Record<string, unknown>[];
  beforeAll(async () => {
    s = await start(["--log-format", "json"]);
    lines = s.p
      .output()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  });
  afterAll(() => s?.p.stop());

  test("every line is one JSON object", () => {
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const l of lines) expect(typeof l.time).toBe("string");
  });

  test("one structured object per listener", () => {
    const tls = lines.find((l) => l.listener === "tls")!;
    expect(tls).toMatchObject({
      level: "info",
      address: "127.0.0.1",
      port: s.https,
      kind: "HTTPS",
      servers: [{ hosts: [HOST_WEBAPP], mode: "SIMPLE", credential: "webapp-credential" }],
    });
    expect(typeof tls.adapter).toBe("string");
    expect((tls.servers as { daysLeft: number }[])[0]!.daysLeft).toBeGreaterThanOrEqual(daysLeft() - 1);
    expect(lines.find((l) => l.listener === "web")).toMatchObject({
      kind: "HTTP",
      port: s.http,
      hosts: ["*"],
    });
    expect(lines.find((l) => l.listener === "db")).toMatchObject({
      kind: "TCP",
      adapter: "node-tcp",
      upstreams: ["discard 127.0.0.1:9"],
    });
  });

  test("the admin and the counts as fields", () => {
    const admin = `http://127.0.0.1:${s.admin}`;
    expect(lines.find((l) => l.endpoints)).toMatchObject({
      admin,
      endpoints: ["/healthz", "/certs", "/upstreams", "/metrics", "/config", "POST /reload"],
    });
    expect(lines.at(-1)).toMatchObject({ listeners: 3, workers: 1, warnings: 1, admin, files: [s.file] });
  });
});
