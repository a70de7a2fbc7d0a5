// The CLI as a user meets it: run, validate, version, help, refusal of bad configs, shutdown.
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { book } from "../helpers/book.ts";
import { curl } from "../helpers/curl.ts";
import { freePorts, sleep } from "../helpers/net.ts";
import { WEBAPP_BODY, startDemoUpstreams } from "../../scripts/demo-upstreams.ts";
import { ROOT, RUNTIME, runPortico, startPortico, writeConfig } from "../helpers/portico.ts";

function httpsConfig(port: number, credentials: string, mode = "SIMPLE"): string {
  return `listeners:
  - name: https
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - hosts: [webapp.istioinaction.io]
        tls: { mode: ${mode}, credential: webapp }
credentials:
${credentials}
services:
  webapp: http://127.0.0.1:1
routes:
  - hosts: [webapp.istioinaction.io]
    http:
      - route: [{ destination: webapp }]
`;
}

describe("portico validate", () => {
  test("the bundled routes.yaml is valid", async () => {
    const r = await runPortico(["validate"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("routes.yaml: ok (3 listeners, 3 credentials)\n");
    expect(r.code).toBe(0);
  });

  test("a key that does not match its certificate is refused, naming both files", async () => {
    const file = writeConfig(
      httpsConfig(8443, `  webapp: { cert: ${book.webappCert}, key: ${book.catalogKey} }`),
    );
    const r = await runPortico(["validate", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${file}:10: credentials.webapp: private key ${book.catalogKey} does not match certificate ${book.webappCert}`,
    );
  });

  test("a missing file is refused with its path", async () => {
    const file = writeConfig(
      httpsConfig(8443, `  webapp: { cert: /nonexistent/tls.crt, key: ${book.webappKey} }`),
    );
    const r = await runPortico(["validate", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${file}:10: credentials.webapp: cannot read certificate /nonexistent/tls.crt: no such file`,
    );
  });

  test("MUTUAL on a credential folder without ca.crt is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portico-cred-"));
    copyFileSync(book.webappCert, join(dir, "tls.crt"));
    copyFileSync(book.webappKey, join(dir, "tls.key"));
    const file = writeConfig(httpsConfig(8443, `  webapp: ${dir}`, "MUTUAL"));
    const r = await runPortico(["validate", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("listeners[0].servers[0]");
    expect(r.stderr).toContain(
      `mode MUTUAL needs a CA to verify client certificates, but credential "webapp" has none (add ca.crt to ${dir}`,
    );
  });

  test("a route to an unknown service is refused with a suggestion", async () => {
    const file = writeConfig(
      httpsConfig(8443, `  webapp: { cert: ${book.webappCert}, key: ${book.webappKey} }`).replace(
        "destination: webapp",
        "destination: webap",
      ),
    );
    const r = await runPortico(["validate", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'routes[0].http[0].route[0].destination: unknown service "webap"; did you mean "webapp"?',
    );
  });

  test("a missing config file is named", async () => {
    const r = await runPortico(["validate", "-c", "/nonexistent/routes.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/nonexistent/routes.yaml");
    expect(r.stderr).toContain("/nonexistent/routes.yaml: cannot read: no such file or folder");
  });
});

describe("the bundled certs/generated set (made by portico certs gen)", () => {
  test("its routes.yaml validates and serves the walkthrough's step 1.3 with its own CA", async () => {
    const upstreams = await startDemoUpstreams();
    const [http, https, mtls] = await freePorts(3);
    // The generated routes.yaml as it is, with its ports and services moved for the test; it
    // stays beside the credentials it names by relative path.
    const text = (await Bun.file(join(ROOT, "certs/generated/routes.yaml")).text())
      .replace("port: 8080", `port: ${http}\n    address: 127.0.0.1`)
      .replace("port: 8443", `port: ${https}\n    address: 127.0.0.1`)
      .replace("port: 9443", `port: ${mtls}\n    address: 127.0.0.1`)
      .replace("http://127.0.0.1:9080", `http://127.0.0.1:${upstreams.webappPort}`);
    const file = join(ROOT, "certs/generated/.test-routes.yaml");
    await Bun.write(file, text);
    const p = await startPortico(file);
    try {
      const r = await curl([
        `https://webapp.istioinaction.io:${https}/api/catalog`,
        "--cacert",
        join(ROOT, "certs/generated/webapp-ca-chain.pem"),
        "--resolve",
        `webapp.istioinaction.io:${https}:127.0.0.1`,
      ]);
      expect(r.status).toBe(200);
      expect(r.httpVersion).toBe("2");
    } finally {
      await p.stop();
      await upstreams.close();
      await Bun.file(file).delete();
    }
  });
});

describe("portico run", () => {
  test("refuses to start on a broken config and says why", async () => {
    const file = writeConfig("listeners:\n  - port: 8443\n    protocol: HTTPS\n    servers: []\n");
    const r = await runPortico(["run", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:4: listeners[0].servers`);
  });

  test("names the listener whose port is taken", async () => {
    const [port] = await freePorts(1);
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: port!, socket: { data() {} } });
    try {
      const file = writeConfig(
        `listeners:\n  - { name: web, address: 127.0.0.1, port: ${port}, protocol: HTTP }\n`,
      );
      const r = await runPortico(["run", "-c", file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`listener "web" cannot listen on 127.0.0.1:${port}: the port is in use`);
    } finally {
      blocker.stop(true);
    }
  });

  test("SIGTERM lets a request in flight finish, then exits 0", async () => {
    const upstreams = await startDemoUpstreams();
    const [port] = await freePorts(1);
    const file = writeConfig(`listeners:
  - { name: web, address: 127.0.0.1, port: ${port}, protocol: HTTP }
services:
  webapp: http://127.0.0.1:${upstreams.webappPort}
routes:
  - hosts: ["*"]
    http:
      - route: [{ destination: webapp }]
`);
    try {
      const p = await startPortico(file);
      const inFlight = curl([`http://127.0.0.1:${port}/slow?ms=600`]);
      await sleep(200);
      const code = await p.stop();
      const r = await inFlight;
      expect(r.status).toBe(200);
      expect(r.body).toBe("slow\n");
      expect(code).toBe(0);
      expect(p.output()).toContain("SIGTERM: shutting down");
      expect((await curl([`http://127.0.0.1:${port}/`])).exitCode).toBe(7); // nothing listens any more
    } finally {
      await upstreams.close();
    }
  });
});

describe("portico version and help", () => {
  test("version names the runtime", async () => {
    const r = await runPortico(["version"]);
    expect(r.stdout).toMatch(
      new RegExp(`^portico \\d+\\.\\d+\\.\\d+ \\(${RUNTIME} \\d+\\.\\d+\\.\\d+\\)\\n$`),
    );
  });

  test("--help prints usage; an unknown option exits 2", async () => {
    expect((await runPortico(["--help"])).stdout).toContain("portico run [-c routes.yaml]");
    const bad = await runPortico(["run", "--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option --bogus");
  });
});

test("the bundled routes.yaml and certs/ serve the README's first curl command, verified with certs/webapp-ca-chain.pem", async () => {
  const upstreams = await startDemoUpstreams();
  const [http, https, mtls] = await freePorts(3);
  // routes.yaml as bundled, with its ports and services moved and its relative paths made absolute.
  const text = readFileSync(join(ROOT, "routes.yaml"), "utf8")
    .replace("port: 8080", `port: ${http}\n    address: 127.0.0.1`)
    .replace("port: 8443", `port: ${https}\n    address: 127.0.0.1`)
    .replace("port: 9443", `port: ${mtls}\n    address: 127.0.0.1`)
    .replace("http://127.0.0.1:9080", `http://127.0.0.1:${upstreams.webappPort}`)
    .replace("http://127.0.0.1:9081", `http://127.0.0.1:${upstreams.catalogPort}`)
    .replaceAll(": certs/", `: ${ROOT}/certs/`);
  const p = await startPortico(writeConfig(text));
  try {
    const r = await curl([
      `https://webapp.istioinaction.io:${https}/api/catalog`,
      "--cacert",
      join(ROOT, "certs/webapp-ca-chain.pem"),
      "--resolve",
      `webapp.istioinaction.io:${https}:127.0.0.1`,
    ]);
    expect(r.status).toBe(200);
    expect(r.body).toBe(WEBAPP_BODY);
  } finally {
    await p.stop();
    await upstreams.close();
  }
});
