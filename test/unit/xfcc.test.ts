import "reflect-metadata";
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate as NodeX509 } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "@peculiar/x509";
import { rfc2253, xfccValue } from "../../src/http/xfcc.ts";
import type { PeerCertificate } from "../../src/listeners/_shared/types.ts";
import { DEFAULT_XFCC } from "../../src/provision/cert-forwarding.ts";
import { book } from "../helpers/book.ts";

/** The element Istio's default policy sends for a mutual-TLS client that sent no XFCC itself. */
const xfccFor = (peer: PeerCertificate) => xfccValue(null, peer, DEFAULT_XFCC);

const BOOK_CLIENT_CERT = book.webappClientCert;

const dir = mkdtempSync(join(tmpdir(), "portico-xfcc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function peerFromPem(pem: string): PeerCertificate {
  const der = new Uint8Array(new NodeX509(pem).raw);
  return { der, sha256: createHash("sha256").update(der).digest("hex") };
}

let counter = 0;
/** A fresh self-signed P-256 certificate; returns its PEM file path. */
function makeCert(subj: string, san?: string): string {
  const n = counter++;
  const key = join(dir, `k${n}.pem`);
  const cert = join(dir, `c${n}.pem`);
  const args = [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    subj,
  ];
  if (san) args.push("-addext", `subjectAltName=${san}`);
  execFileSync("openssl", [...args, "-keyout", key, "-out", cert, "-days", "1"], { stdio: "ignore" });
  return cert;
}

/** What OpenSSL prints with XN_FLAG_RFC2253, the flag Envoy formats the Subject with. */
function opensslRfc2253(certFile: string): string {
  const out = execFileSync(
    "openssl",
    ["x509", "-in", certFile, "-noout", "-subject", "-nameopt", "RFC2253"],
    { encoding: "utf8" },
  );
  return out.trim().replace(/^subject=/, "");
}

describe("the default XFCC element", () => {
  test("the book's client certificate: Hash, Subject in RFC 2253 order, empty URI", () => {
    const pem = readFileSync(BOOK_CLIENT_CERT, "utf8");
    const peer = peerFromPem(pem);
    // The fingerprint OpenSSL prints, as an independent check of the hash input.
    const fp = execFileSync(
      "openssl",
      ["x509", "-in", BOOK_CLIENT_CERT, "-noout", "-fingerprint", "-sha256"],
      { encoding: "utf8" },
    );
    expect(peer.sha256).toBe(fp.trim().split("=")[1]!.replaceAll(":", "").toLowerCase());
    expect(peer.sha256).toBe("651d38999bbfa4a0ac76d835306e2fd3b06c150d3b48749b640b408afa3ec56c");
    expect(xfccFor(peer)).toBe(
      'Hash=651d38999bbfa4a0ac76d835306e2fd3b06c150d3b48749b640b408afa3ec56c;Subject="CN=webapp.istioinaction.io,O=Dis,L=Springfield,ST=Denial,C=US";URI=',
    );
  });

  test("URI and DNS SANs follow the subject; the comma in CN is escaped as RFC 2253 says", () => {
    const file = makeCert("/CN=a,b/O=x", "DNS:a.example,URI:spiffe://td/ns/x/sa/y");
    const peer = peerFromPem(readFileSync(file, "utf8"));
    const value = xfccFor(peer);
    expect(value).toContain("URI=spiffe://td/ns/x/sa/y;DNS=a.example");
    expect(rfc2253(new X509Certificate(peer.der))).toBe("O=x,CN=a\\,b");
    expect(opensslRfc2253(file)).toBe("O=x,CN=a\\,b");
    // Envoy puts the subject between quotes as is (conn_manager_utility.cc), and so do we.
    expect(value).toBe(`Hash=${peer.sha256};Subject="O=x,CN=a\\,b";URI=spiffe://td/ns/x/sa/y;DNS=a.example`);
  });

  test("several SANs: every URI then every DNS name, in certificate order", () => {
    const file = makeCert(
      "/CN=multi",
      "DNS:one.example,URI:spiffe://td/a,DNS:two.example,URI:spiffe://td/b,IP:10.0.0.1",
    );
    const peer = peerFromPem(readFileSync(file, "utf8"));
    expect(xfccFor(peer)).toBe(
      `Hash=${peer.sha256};Subject="CN=multi";URI=spiffe://td/a;URI=spiffe://td/b;DNS=one.example;DNS=two.example`,
    );
  });

  test("DNS SANs without a URI SAN still write an empty URI key", () => {
    const file = makeCert("/CN=dns-only", "DNS:d.example");
    const peer = peerFromPem(readFileSync(file, "utf8"));
    expect(xfccFor(peer)).toBe(`Hash=${peer.sha256};Subject="CN=dns-only";URI=;DNS=d.example`);
  });

  test("the value is computed once per peer object", () => {
    const peer = peerFromPem(readFileSync(BOOK_CLIENT_CERT, "utf8"));
    const first = xfccFor(peer);
    // Same object: served from the cache even though the hash field changed.
    peer.sha256 = "changed";
    expect(xfccFor(peer)).toBe(first);
    // A new object is computed afresh.
    expect(xfccFor({ der: peer.der, sha256: "other" })).toStartWith("Hash=other;");
  });
});

describe("rfc2253 matches OpenSSL's XN_FLAG_RFC2253 output", () => {
  test.each([
    ["/CN=a,b/O=x", "O=x,CN=a\\,b"],
    ["/CN=x\\+y/O=#lead", "O=\\#lead,CN=x\\+y"],
    ['/CN=q"uote;semi<lt>/OU= sp /O=back\\\\slash', 'O=back\\\\slash,OU=\\ sp\\ ,CN=q\\"uote\\;semi\\<lt\\>'],
    [
      "/C=US/ST=Denial/L=Springfield/O=Dis/CN=webapp.istioinaction.io",
      "CN=webapp.istioinaction.io,O=Dis,L=Springfield,ST=Denial,C=US",
    ],
  ])("%p", (subj, want) => {
    const file = makeCert(subj);
    expect(opensslRfc2253(file)).toBe(want);
    expect(rfc2253(new X509Certificate(readFileSync(file, "utf8")))).toBe(want);
  });

  // XN_FLAG_RFC2253 reverses every entry, also the ones inside a multi-valued RDN.
  test("a multi-valued RDN is written in OpenSSL's order", () => {
    const file = makeCert("/CN=a/O=x+OU=y");
    expect(opensslRfc2253(file)).toBe("OU=y+O=x,CN=a");
    expect(rfc2253(new X509Certificate(readFileSync(file, "utf8")))).toBe(opensslRfc2253(file));
  });
});
