// `portico certs` against real TLS: what `certs gen` (run under PORTICO_RUNTIME, like every
// command here) writes is served by Portico from a credential folder, accepted by curl with
// --cacert, and its client certificate passes mutual TLS; `certs inspect --connect` sees what
// Portico presents and verifies it against the generated CA.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curl } from "../helpers/curl.ts";
import { freePorts } from "../helpers/net.ts";
import {
  ROOT,
  RUNTIME,
  runPortico,
  startPorticoWith,
  writeConfig,
  type PorticoProcess,
} from "../helpers/portico.ts";

const HOST = "app.portico.test";
const RSA_HOST = "rsa.portico.test";
const BODY = "hello from a generated certificate\n";

const dir = mkdtempSync(join(tmpdir(), "portico-certs-e2e-"));
const ca = join(dir, "ca");
const other = join(dir, "other-ca");
const server = join(dir, "server");
const rsaServer = join(dir, "rsa-server");
const client = join(dir, "client");
const stranger = join(dir, "stranger");

/** `portico certs <args>`, run as a process of the runtime under test. */
const certsCli = (args: string[]) => runPortico(["certs", ...args], 30_000);

async function gen(args: string[]) {
  const r = await certsCli(["gen", ...args]);
  if (r.code !== 0) throw new Error(`certs gen ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

let p: PorticoProcess;
let simple: number, mtls: number, any: number;

beforeAll(async () => {
  await Promise.all([
    gen(["ca", "--out", ca, "--name", "E2E Dev CA"]),
    gen(["ca", "--out", other, "--name", "Some Other CA"]),
  ]);
  await Promise.all([
    gen(["server", "--ca", ca, "--out", server, HOST, "127.0.0.1"]),
    gen(["server", "--rsa", "--ca", ca, "--out", rsaServer, RSA_HOST]),
    gen(["client", "--ca", ca, "--out", client, "alice@example.test"]),
    gen(["client", "--ca", other, "--out", stranger, "mallory@example.test"]),
  ]);
  [simple, mtls, any] = (await freePorts(3)) as [number, number, number];
  const config = writeConfig(`listeners:
  - name: simple
    address: 127.0.0.1
    port: ${simple}
    protocol: HTTPS
    servers:
      - hosts: [${HOST}]
        tls: { mode: SIMPLE, credential: generated }
      - hosts: [${RSA_HOST}]
        tls: { mode: SIMPLE, credential: generated-rsa }
  - name: mtls
    address: 127.0.0.1
    port: ${mtls}
    protocol: HTTPS
    servers:
      - hosts: [${HOST}]
        tls: { mode: MUTUAL, credential: generated }
  - name: any
    address: 127.0.0.1
    port: ${any}
    protocol: HTTPS
    servers:
      - hosts: ["*"]
        tls: { mode: SIMPLE, credential: generated }
credentials:
  generated: ${server}
  generated-rsa: ${rsaServer}
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: ${JSON.stringify(BODY)}, contentType: text/plain }
`);
  p = await startPorticoWith(["run", "-c", config, "--admin", "off"], { timeoutMs: 30_000 });
}, 60_000);

afterAll(async () => {
  await p?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("certs gen output served by Portico", () => {
  test("curl trusts the server certificate with --cacert ca.crt (EC P-256, DNS SAN)", async () => {
    const r = await curl([
      `https://${HOST}:${simple}/`,
      "--cacert",
      join(ca, "ca.crt"),
      "--resolve",
      `${HOST}:${simple}:127.0.0.1`,
    ]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body).toBe(BODY);
  });

  test("an RSA 2048 server certificate from the same CA, chosen by SNI on the same port", async () => {
    const r = await curl([
      `https://${RSA_HOST}:${simple}/`,
      "--cacert",
      join(ca, "ca.crt"),
      "--resolve",
      `${RSA_HOST}:${simple}:127.0.0.1`,
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
  });

  test("the IP SAN: curl to https://127.0.0.1 (no SNI) verifies the address", async () => {
    const r = await curl([`https://127.0.0.1:${any}/`, "--cacert", join(ca, "ca.crt")]);
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
  });

  test("another CA's bundle does not verify it (curl exit 60)", async () => {
    const r = await curl([
      `https://${HOST}:${simple}/`,
      "--cacert",
      join(other, "ca.crt"),
      "--resolve",
      `${HOST}:${simple}:127.0.0.1`,
    ]);
    expect(r.exitCode).toBe(60);
  });

  test("mutual TLS: the generated client certificate is accepted", async () => {
    const r = await curl([
      `https://${HOST}:${mtls}/`,
      "--cacert",
      join(ca, "ca.crt"),
      "--resolve",
      `${HOST}:${mtls}:127.0.0.1`,
      "--cert",
      join(client, "tls.crt"),
      "--key",
      join(client, "tls.key"),
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body).toBe(BODY);
  });

  test("mutual TLS: no client certificate, or one from another CA, gets no HTTP response", async () => {
    const base = [
      `https://${HOST}:${mtls}/`,
      "--cacert",
      join(ca, "ca.crt"),
      "--resolve",
      `${HOST}:${mtls}:127.0.0.1`,
    ];
    const none = await curl(base);
    expect(none.exitCode).not.toBe(0);
    expect(none.status).toBe(0);
    const foreign = await curl([
      ...base,
      "--cert",
      join(stranger, "tls.crt"),
      "--key",
      join(stranger, "tls.key"),
    ]);
    expect(foreign.exitCode).not.toBe(0);
    expect(foreign.status).toBe(0);
  });
});

describe(`certs inspect --connect (CLI on ${RUNTIME})`, () => {
  test("shows what Portico presents for the SNI and verifies it against the generated CA", async () => {
    const r = await certsCli([
      "inspect",
      "--connect",
      `127.0.0.1:${simple}`,
      "--servername",
      HOST,
      "--cacert",
      join(ca, "ca.crt"),
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `== 127.0.0.1:${simple} (TLS server, 1 certificate presented)\n  Server Name:         ${HOST}\n  Protocol:            TLSv1.3, `,
    );
    expect(r.stdout).toContain("  ALPN:                h2\n");
    expect(r.stdout).toContain(`  Name Matches:        yes (${HOST})\n`);
    expect(r.stdout).toContain(`  Subject:             O = Portico development certificate, CN = ${HOST}\n`);
    expect(r.stdout).toContain("  Issuer:              O = Portico development CA, CN = E2E Dev CA\n");
    expect(r.stdout).toContain(`  Subject Alt Names:   DNS:${HOST}, IP Address:127.0.0.1\n`);
    expect(r.stdout).toContain("  Public Key:          EC P-256\n");
    expect(r.stdout).toContain(
      `  ends in --ca ${join(ca, "ca.crt")}: yes ([1] is issued by ${join(ca, "ca.crt")} [1] (O = Portico development CA, CN = E2E Dev CA))\n  verifies\n`,
    );
    expect(r.stdout).toEndWith("Result: ok\n");
  });

  test("the RSA host's certificate, as JSON", async () => {
    const r = await certsCli([
      "inspect",
      "--json",
      "--connect",
      `127.0.0.1:${simple}`,
      "--servername",
      RSA_HOST,
      "--cacert",
      ca,
    ]);
    expect(r.code).toBe(0);
    const [report] = JSON.parse(r.stdout) as Array<Record<string, any>>;
    expect(report).toMatchObject({
      kind: "server",
      server: { servername: RSA_HOST, alpn: "h2", nameMatches: true },
      chain: { ok: true, anchor: { ok: true } },
      ok: true,
    });
    expect(report!.certificates[0]).toMatchObject({
      subject: `O = Portico development certificate, CN = ${RSA_HOST}`,
      publicKey: { text: "RSA 2048" },
      extendedKeyUsage: { usages: ["TLS Web Server Authentication"] },
    });
  });

  test("against another CA the chain does not verify (exit 1)", async () => {
    const r = await certsCli([
      "inspect",
      "--connect",
      `127.0.0.1:${simple}`,
      "--servername",
      HOST,
      "--cacert",
      join(other, "ca.crt"),
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `ends in --ca ${join(other, "ca.crt")}: NO (none of its certificates is [1]'s issuer, O = Portico development CA, CN = E2E Dev CA)`,
    );
  });

  test("a name the server does not serve: the handshake is refused, exit 1", async () => {
    const r = await certsCli([
      "inspect",
      "--connect",
      `127.0.0.1:${simple}`,
      "--servername",
      "unknown.portico.test",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`portico certs: cannot inspect 127.0.0.1:${simple}: 127.0.0.1:${simple}: `);
  });

  test("the certificate does not cover a name it is asked for (exit 1)", async () => {
    const r = await certsCli([
      "inspect",
      "--connect",
      `127.0.0.1:${any}`,
      "--servername",
      "elsewhere.example.test",
      "--cacert",
      ca,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("  Name Matches:        NO (elsewhere.example.test)\n");
    expect(r.stdout).toContain(
      `error: [1] is not valid for elsewhere.example.test (DNS:${HOST}, IP Address:127.0.0.1)`,
    );
  });

  test("inspect of a book certificate file runs in this runtime too", async () => {
    const r = await certsCli([
      "inspect",
      join(
        ROOT,
        "test/fixtures/istio-in-action-ch4/certs/3_application/certs/webapp.istioinaction.io.cert.pem",
      ),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "  SHA-256 Fingerprint: 71:CB:45:45:1C:9C:8D:6A:9B:89:BB:DF:AB:88:6D:1D:FE:5E:01:8E:7E:4B:50:0C:B6:90:52:03:43:0A:B7:DA\n",
    );
  });
});
