// The admin listener: health, certificates as JSON, and startup refusals for bad certificates.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_WEBAPP, bookCredentials } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import { runPortico, startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

describe("admin listener", () => {
  let p: PorticoProcess, admin: number;
  beforeAll(async () => {
    const [https, mtls, a] = await freePorts(3);
    admin = a!;
    const file = writeConfig(`listeners:
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
${bookCredentials}
`);
    p = await startPorticoWith(["run", "-c", file, "--admin", `127.0.0.1:${admin}`]);
  });
  afterAll(() => p?.stop());

  test("its URL is printed at startup", () => {
    expect(p.output()).toContain(
      `admin on http://127.0.0.1:${admin} (/healthz, /certs, /upstreams, /metrics, /config, POST /reload)`,
    );
  });

  test("GET /healthz", async () => {
    const r = await curl([`http://127.0.0.1:${admin}/healthz`]);
    expect(r.status).toBe(200);
    expect(r.body).toBe("ok\n");
  });

  test("GET /certs lists every credential with where it is used and its health", async () => {
    const r = await curl([`http://127.0.0.1:${admin}/certs`]);
    expect(r.status).toBe(200);
    const certs = JSON.parse(r.body) as Record<string, unknown>[];
    expect(certs.map((c) => c.name).sort()).toEqual(["webapp-credential", "webapp-credential-mtls"]);
    const simple = certs.find((c) => c.name === "webapp-credential")!;
    expect(simple).toMatchObject({
      subject: "C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io",
      issuer: "C=US, ST=Denial, O=Dis, CN=webapp.istioinaction.io",
      sans: [],
      notBefore: "2021-07-04T12:49:32.000Z",
      notAfter: "2041-06-29T12:49:32.000Z",
      usedBy: [{ listener: "https", hosts: [HOST_WEBAPP], mode: "SIMPLE" }],
      chain: { status: "ok", problems: [] },
    });
    expect(simple.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(simple.daysLeft).toBeGreaterThan(5000);
    expect(simple.clientCa).toBeUndefined();
    const mutual = certs.find((c) => c.name === "webapp-credential-mtls")!;
    expect((mutual.clientCa as { subject: string }[]).map((c) => c.subject)).toEqual([
      "C=US, ST=Denial, O=Dis, CN=webapp.istioinaction.io",
      "C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io",
    ]);
  });

  test("GET /certs/:name, and 404 naming the known ones", async () => {
    const one = JSON.parse((await curl([`http://127.0.0.1:${admin}/certs/webapp-credential`])).body);
    expect(one.name).toBe("webapp-credential");
    const missing = await curl([`http://127.0.0.1:${admin}/certs/nope`]);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).known).toEqual(["webapp-credential", "webapp-credential-mtls"]);
  });

  test("an admin address given explicitly that is taken stops startup, naming it", async () => {
    const [port] = await freePorts(1);
    const file = writeConfig(
      `listeners:\n  - { name: web, address: 127.0.0.1, port: ${port}, protocol: HTTP }\nroutes:\n  - hosts: ["*"]\n    http:\n      - directResponse: { status: 200, body: up }\n`,
    );
    const q = await startPorticoWith(["run", "-c", file, "--admin", `127.0.0.1:${admin}`]).catch(
      (e) => e as Error,
    );
    expect(q).toBeInstanceOf(Error);
    expect(String(q)).toContain(`listener "admin" cannot listen on 127.0.0.1:${admin}: the port is in use`);
  });
});

describe("certificates judged at startup", () => {
  const dir = mkdtempSync(join(tmpdir(), "portico-expired-"));
  // openssl's -days -1 makes a certificate whose validity ended a day before it began.
  const gen = (args: string[]) => spawnSync("openssl", args, { cwd: dir });
  gen([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    "/CN=expired.test",
    "-keyout",
    "k.pem",
    "-out",
    "c.pem",
    "-days",
    "1",
  ]);
  gen(["x509", "-x509toreq", "-in", "c.pem", "-signkey", "k.pem", "-out", "r.csr"]);
  gen(["x509", "-req", "-in", "r.csr", "-signkey", "k.pem", "-days", "-1", "-out", "expired.pem"]);
  const yaml = (port: number) => `listeners:
  - { name: tls, address: 127.0.0.1, port: ${port}, protocol: HTTPS, servers: [{ hosts: [expired.test], tls: { credential: old } }] }
credentials:
  old: { cert: ${join(dir, "expired.pem")}, key: ${join(dir, "k.pem")} }
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: up }
`;

  test("an expired certificate stops startup with the file and the date", async () => {
    const [port] = await freePorts(1);
    const file = writeConfig(yaml(port!));
    const r = await runPortico(["validate", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${file}:4: credentials.old: certificate CN=expired.test in ${join(dir, "expired.pem")} expired on`,
    );
    expect(r.stderr).toContain("renew it, or start with --allow-expired");
  });

  test("--allow-expired starts anyway and warns", async () => {
    const [port, a] = await freePorts(2);
    const p = await startPorticoWith([
      "run",
      "-c",
      writeConfig(yaml(port!)),
      "--allow-expired",
      "--admin",
      `127.0.0.1:${a}`,
    ]);
    try {
      expect(p.output()).toContain("(starting anyway: --allow-expired)");
      const r = await curl([
        "-k",
        `https://expired.test:${port}/`,
        "--resolve",
        `expired.test:${port}:127.0.0.1`,
      ]);
      expect(r.body).toBe("up");
      const certs = JSON.parse((await curl([`http://127.0.0.1:${a}/certs/old`])).body);
      expect(certs.daysLeft).toBeLessThan(0);
    } finally {
      await p.stop();
    }
  });
});

describe("admin address in routes.yaml", () => {
  test("settings.admin sets it; --admin still wins", async () => {
    const [port, a, b] = await freePorts(3);
    const file = writeConfig(
      `settings:\n  admin: 127.0.0.1:${a}\nlisteners:\n  - { name: web, address: 127.0.0.1, port: ${port}, protocol: HTTP }\n`,
    );
    const p = await startPorticoWith(["run", "-c", file]);
    try {
      expect((await curl([`http://127.0.0.1:${a}/healthz`])).body).toBe("ok\n");
    } finally {
      await p.stop();
    }
    const q = await startPorticoWith(["run", "-c", file, "--admin", `127.0.0.1:${b}`]);
    try {
      expect(q.output()).toContain(`admin on http://127.0.0.1:${b}`);
      expect((await curl([`http://127.0.0.1:${a}/healthz`])).exitCode).toBe(7);
    } finally {
      await q.stop();
    }
  });

  test("a malformed settings.admin is an error with its line", async () => {
    const file = writeConfig(
      `settings:\n  admin: localhost\nlisteners:\n  - { port: 8080, protocol: HTTP }\n`,
    );
    const r = await runPortico(["validate", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${file}:2: settings.admin: expected the admin listener address, ADDR:PORT such as 127.0.0.1:15000, or "off", got "localhost"`,
    );
  });
});
