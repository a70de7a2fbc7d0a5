// Envoy's forward_client_cert_details modes and set_current_client_cert_details, as documented
// in Envoy's HttpConnectionManager reference ("forward_client_cert_details").
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { loadX509 } from "../../src/certs/x509-loader.ts";
import { xfccValue } from "../../src/http/xfcc.ts";
import type { PeerCertificate } from "../../src/listeners/_shared/types.ts";
import { DEFAULT_XFCC, type XfccPolicy } from "../../src/provision/cert-forwarding.ts";
import { book } from "../helpers/book.ts";

// The HTTP handler loads it before the first request with a client certificate (app.ts).
await loadX509();

const clientPem = readFileSync(book.webappClientCert, "utf8");
const intermediatePem = readFileSync(book.webappIntermediateCert, "utf8");
const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
const peer: PeerCertificate = {
  der: der(clientPem),
  sha256: new X509Certificate(clientPem).fingerprint256.replaceAll(":", "").toLowerCase(),
  chain: [der(clientPem), der(intermediatePem)],
};
const mine = `Hash=${peer.sha256};Subject="CN=webapp.istioinaction.io,O=Dis,L=Springfield,ST=Denial,C=US";URI=`;
const policy = (
  mode: XfccPolicy["mode"],
  details: XfccPolicy["details"] = DEFAULT_XFCC.details,
  by: string[] = [],
): XfccPolicy => ({ mode, details, by });
const spoof = "By=spiffe://evil;Hash=00";

describe("modes (Envoy: forward_client_cert_details)", () => {
  // [mode, incoming header, mutual TLS?, expected]
  const table: [XfccPolicy["mode"], string | null, boolean, string | undefined][] = [
    ["sanitize", spoof, true, undefined], // SANITIZE: do not send the XFCC header to the next hop
    ["sanitize", null, true, undefined],
    ["forward-only", spoof, true, spoof], // FORWARD_ONLY: when mTLS, forward the header as is
    ["forward-only", spoof, false, undefined], // ... and sanitize when not mTLS
    ["append-forward", spoof, true, `${spoof},${mine}`], // APPEND_FORWARD: append ours
    ["append-forward", null, true, mine],
    ["append-forward", spoof, false, undefined],
    ["sanitize-set", spoof, true, mine], // SANITIZE_SET: reset to ours
    ["sanitize-set", spoof, false, undefined],
    ["always-forward-only", spoof, false, spoof], // ALWAYS_FORWARD_ONLY: regardless of mTLS
  ];
  for (const [mode, incoming, mtls, expected] of table) {
    test(`${mode}, incoming ${incoming === null ? "none" : "spoofed"}, ${mtls ? "mTLS" : "no client cert"}`, () => {
      expect(xfccValue(incoming, mtls ? peer : undefined, policy(mode))).toBe(expected);
    });
  }
  test("the default is Istio's gateway default: sanitize-set with Subject, URI, DNS", () => {
    expect(DEFAULT_XFCC.mode).toBe("sanitize-set");
    expect(xfccValue(spoof, peer, DEFAULT_XFCC)).toBe(mine);
  });
});

describe("details (Envoy: set_current_client_cert_details), in Envoy's key order", () => {
  test("By from our own URI SANs comes first, then Hash", () => {
    expect(xfccValue(null, peer, policy("sanitize-set", new Set(), ["spiffe://portico/gw"]))).toBe(
      `By=spiffe://portico/gw;Hash=${peer.sha256}`,
    );
  });
  test("Cert is the URL-encoded PEM of the client certificate", () => {
    const v = xfccValue(null, peer, policy("sanitize-set", new Set(["cert"])))!;
    const cert = /Cert="([^"]+)"/.exec(v)![1]!;
    expect(decodeURIComponent(cert).replace(/\s+/g, "")).toBe(clientPem.replace(/\s+/g, ""));
    expect(cert).not.toContain("\n");
  });
  test("Chain is the URL-encoded PEM of every certificate the client sent", () => {
    const v = xfccValue(null, peer, policy("sanitize-set", new Set(["chain"])))!;
    const chain = decodeURIComponent(/Chain="([^"]+)"/.exec(v)![1]!);
    expect(chain.replace(/\s+/g, "")).toBe((clientPem + intermediatePem).replace(/\s+/g, ""));
  });
  test("order: By, Hash, Cert, Chain, Subject, URI, DNS", () => {
    const v = xfccValue(
      null,
      peer,
      policy("sanitize-set", new Set(["dns", "uri", "subject", "chain", "cert"]), ["spiffe://a"]),
    )!;
    const keys = v.split(/;(?=[A-Za-z]+=)/).map((p) => p.slice(0, p.indexOf("=")));
    expect(keys).toEqual(["By", "Hash", "Cert", "Chain", "Subject", "URI"]);
  });
});
