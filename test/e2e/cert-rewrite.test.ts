// A certificate rewritten in place with another certificate of the same size is served from the
// next reload, whether it was rewritten right after the load that read it or after reloads that
// found it unchanged and did not read it again (src/util/file-reads.ts's FileMemo): file
// metadata decides what is read again, and a rewrite that leaves size and mtime as they were
// (a coarse clock, here simulated by putting the mtime back to the nanosecond) must still be
// seen.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { freePort, sleep } from "../helpers/net.ts";
import { TestPki } from "../helpers/pki.ts";
import { startPorticoWith, writeConfig, type PorticoProcess } from "../helpers/portico.ts";

const HOST = "rw.rewrite.test";
const pki = new TestPki("Rewrite Test CA");
const one = pki.issue("one", HOST, [`DNS:${HOST}`], "serverAuth");
const two = pki.issue("two", HOST, [`DNS:${HOST}`], "serverAuth");

/** The two PEM texts made the same length (trailing newlines, which PEM readers skip). */
function sameSize(a: string, b: string): [string, string] {
  const n = Math.max(a.length, b.length);
  return [a.padEnd(n, "\n"), b.padEnd(n, "\n")];
}
const [crt1, crt2] = sameSize(readFileSync(one.crt, "utf8"), readFileSync(two.crt, "utf8"));
const [key1, key2] = sameSize(readFileSync(one.key, "utf8"), readFileSync(two.key, "utf8"));
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const live = { crt: `${pki.dir}/live.crt`, key: `${pki.dir}/live.key` };

/** The live files' mtime: a whole second, so that utimes can put it back to the nanosecond. */
const MTIME = Math.floor(Date.now() / 1000) - 10;

/** Writes the live files in place and puts their mtime back: only their ctime tells. */
function install(crt: string, key: string): void {
  for (const [file, text] of [
    [live.crt, crt],
    [live.key, key],
  ] as const) {
    const before = statSync(file, { bigint: true, throwIfNoEntry: false });
    writeFileSync(file, text, { mode: 0o600 });
    utimesSync(file, MTIME, MTIME);
    if (before === undefined) continue;
    expect(statSync(file, { bigint: true })).toMatchObject({
      ino: before.ino,
      size: before.size,
      mtimeNs: before.mtimeNs,
    });
  }
}

let p: PorticoProcess;
let port: number;
let reloads = 0;

/** SIGHUP; the reload's "files: R read, U unchanged". */
async function reload(): Promise<string> {
  reloads++;
  p.proc.kill("SIGHUP");
  const deadline = Date.now() + 10_000;
  const lines = () => p.output().match(/reloaded: .*|reload refused.*/g) ?? [];
  while (lines().length < reloads && Date.now() < deadline) await sleep(20);
  expect(p.output()).not.toContain("reload refused");
  expect(lines().length).toBe(reloads);
  return /files: \d+ read, \d+ unchanged/.exec(lines().at(-1)!)?.[0] ?? "";
}

function served(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, servername: HOST, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.on("error", reject);
  });
}

beforeAll(async () => {
  install(crt1, key1);
  port = await freePort();
  const file = writeConfig(`listeners:
  - name: tls
    address: 127.0.0.1
    port: ${port}
    protocol: HTTPS
    servers:
      - { hosts: [${HOST}], tls: { credential: c } }
credentials:
  c: { cert: ${live.crt}, key: ${live.key} }
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200, body: "ok" }
`);
  // Only the test's SIGHUPs reload: the watcher would see the rewrite too.
  p = await startPorticoWith(["run", "-c", file, "--watch", "false"]);
});
afterAll(async () => {
  await p?.stop();
});

describe("a certificate rewritten in place with one of the same size", () => {
  test("right after the load that read it: the next reload serves it", async () => {
    expect(await served()).toBe(fp(crt1));
    install(crt2, key2);
    await reload();
    expect(await served()).toBe(fp(crt2));
  });

  test("after reloads that found it unchanged: the next reload serves it", async () => {
    // Older than the settle time (2 s): from now on a reload trusts the files' metadata.
    await sleep(2_300);
    await reload();
    // The config, the certificate and the key: none read again.
    expect(await reload()).toBe("files: 0 read, 3 unchanged");
    expect(await served()).toBe(fp(crt2));
    install(crt1, key1);
    expect(await reload()).toBe("files: 2 read, 1 unchanged");
    expect(await served()).toBe(fp(crt1));
  });
});
