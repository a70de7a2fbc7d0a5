// One mechanism records every file a load reads: the -c folder and its files, credential files,
// a CRL, upstream TLS files, an Istio document, and the credential folder of its credentialName.
import { expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSources } from "../../src/cli/config-files.ts";
import { provision } from "../../src/provision/provision.ts";
import { FileMemo, FileReads, firstChange, readText, recordReads } from "../../src/util/file-reads.ts";
import { TestPki } from "../helpers/pki.ts";

test("a load records every path it consulted, each with what it found", async () => {
  const pki = new TestPki();
  const server = pki.issue("server", "a.test", ["DNS:a.test"], "serverAuth");
  const client = pki.issue("client", "portico", ["DNS:portico"], "clientAuth");
  const crl = pki.crl([]);
  const dir = mkdtempSync(join(tmpdir(), "portico-reads-"));
  const conf = join(dir, "conf");
  const creds = join(dir, "creds");
  mkdirSync(conf);
  mkdirSync(creds);
  writeFileSync(
    join(conf, "routes.yaml"),
    `listeners:
  - name: tls
    port: 8443
    protocol: HTTPS
    servers:
      - hosts: [a.test]
        tls: { mode: MUTUAL, credential: c, caCrl: ${crl} }
credentials:
  c: { cert: ${server.crt}, key: ${server.key}, ca: ${pki.ca.crt} }
services:
  up:
    url: https://127.0.0.1:9443
    tls: { ca: ${pki.ca.crt}, cert: ${client.crt}, key: ${client.key} }
routes:
  - hosts: [a.test]
    http:
      - route: [{ destination: up }]
`,
  );
  writeFileSync(
    join(conf, "gateway.yaml"),
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  servers:
    - port: { number: 9443, name: https, protocol: HTTPS }
      hosts: [k.test]
      tls: { mode: SIMPLE, credentialName: k }
`,
  );
  mkdirSync(join(creds, "k"));
  copyFileSync(server.crt, join(creds, "k", "tls.crt"));
  copyFileSync(server.key, join(creds, "k", "tls.key"));
  writeFileSync(join(conf, "notes.txt"), "not read");
  const reads = new FileReads();
  await recordReads(reads, async () => {
    const config = await loadSources([conf], { credentialDirs: [creds] });
    await provision(config);
  });
  const kinds = Object.fromEntries([...reads.paths].map(([p, r]) => [p, r.kind]));
  expect(kinds).toMatchObject({
    [conf]: "dir",
    [join(conf, "routes.yaml")]: "file",
    [server.crt]: "file",
    [server.key]: "file",
    [pki.ca.crt]: "file",
    [crl]: "file",
    [client.crt]: "file",
    [client.key]: "file",
    [join(conf, "gateway.yaml")]: "file",
    [join(creds, "k", "tls.crt")]: "file",
    [join(creds, "k", "tls.key")]: "file",
  });
  // An optional CA that is not there: its appearance would be a change.
  expect(reads.paths.get(join(creds, "k", "ca.crt"))).toEqual({ kind: "probe", digest: "no" });
  expect(kinds[join(conf, "notes.txt")]).toBeUndefined();
  expect([...reads.paths].filter(([, r]) => r.digest === "absent")).toEqual([]);
});

test("a file unchanged since the last load is not read again; one rewritten in place is", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "portico-memo-")), "a.pem");
  // A whole second, so that utimes can put it back to the nanosecond.
  const mtime = Math.floor(Date.now() / 1000) - 10;
  writeFileSync(file, "one\n");
  utimesSync(file, mtime, mtime);
  const load = async (memo: FileMemo) => {
    const reads = new FileReads();
    const text = await recordReads(reads, () => readText(file), memo);
    return { text, reads, ...memo.lastLoad };
  };
  // Changed less than settleMs before it was read: read again each time.
  const wary = new FileMemo(60_000);
  expect(await load(wary)).toMatchObject({ text: "one\n", read: 1, reused: 0 });
  expect(await load(wary)).toMatchObject({ text: "one\n", read: 1, reused: 0 });

  const memo = new FileMemo(20);
  await Bun.sleep(40);
  const first = await load(memo);
  expect(first).toMatchObject({ text: "one\n", read: 1, reused: 0 });
  const second = await load(memo);
  expect(second).toMatchObject({ text: "one\n", read: 0, reused: 1 });
  expect(await firstChange(second.reads)).toBeUndefined();
  // The same size, the mtime put back (as a coarse clock would leave it): ctime still differs.
  const before = statSync(file, { bigint: true });
  writeFileSync(file, "two\n");
  utimesSync(file, mtime, mtime);
  expect(statSync(file, { bigint: true })).toMatchObject({ mtimeNs: before.mtimeNs, size: before.size });
  expect(await firstChange(second.reads)).toBe(file);
  expect(await load(memo)).toMatchObject({ text: "two\n", read: 1, reused: 0 });
});
