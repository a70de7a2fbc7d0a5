// bun-serve's certificate swap, below the gateway: the reuseport steering sends every new
// connection to the newest of two Bun.serve servers on one port (without it the kernel's hash
// shares them, and the old socket's queue is reset when it closes); after a swap the next
// handshakes get the new certificate from the same port, while a request in flight on the old
// server completes; and binding with SO_REUSEPORT still fails on a port another socket holds.
// Linux only (SO_REUSEPORT's sharing and the steering are Linux's); Bun only (Bun.serve).
import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { connect } from "node:tls";
import { startBunServe } from "../../src/listeners/bun-serve.ts";
import { steerToNewest } from "../../src/listeners/_shared/reuseport-steer.ts";
import type { HttpListenerSpec, TlsListenerSpec } from "../../src/listeners/_shared/types.ts";
import { TestPki, type Pem } from "../helpers/pki.ts";

const linux = process.platform === "linux";
const A = "a.swap.test";
const B = "b.swap.test";
const pki = new TestPki("Swap Test CA");
const issue = (name: string, host: string) => pki.issue(name, host, [`DNS:${host}`], "serverAuth");
const [a1, a2, b] = [issue("a1", A), issue("a2", A), issue("b", B)];
const fingerprint = (pem: Pem) => new X509Certificate(readFileSync(pem.crt)).fingerprint256;
const pemOf = (p: Pem) => ({ cert: readFileSync(p.crt, "utf8"), key: readFileSync(p.key, "utf8") });

/** One handshake to 127.0.0.1:port for `name`: the certificate's fingerprint, or the error. */
function handshake(port: number, name: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, servername: name, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.setTimeout(5_000, () => (s.destroy(), resolve("timeout")));
    s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

const servers: { stop(force: boolean): unknown }[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop(true);
});

describe.skipIf(!linux)("reuseport steering", () => {
  const serve = (pem: Pem, port: number) => {
    const s = Bun.serve({
      hostname: "127.0.0.1",
      port,
      reusePort: true,
      tls: { cert: pemOf(pem).cert, key: pemOf(pem).key },
      fetch: () => new Response("ok"),
    });
    servers.push(s);
    return s;
  };

  test("every new connection goes to the newest socket while steered; shared again after release", async () => {
    const first = serve(a1, 0);
    const port = first.port!;
    const second = serve(a2, port);
    const seen = async () => {
      const out = new Set<string>();
      for (let i = 0; i < 40; i++) out.add(await handshake(port, A));
      return out;
    };
    // The kernel's hash over 40 source ports: both sockets (all on one: 2 in 2^40).
    expect(await seen()).toEqual(new Set([fingerprint(a1), fingerprint(a2)]));
    const steering = steerToNewest(port);
    expect(steering).toBeDefined();
    expect(await seen()).toEqual(new Set([fingerprint(a2)]));
    steering!.release();
    expect(await seen()).toEqual(new Set([fingerprint(a1), fingerprint(a2)]));
    await Promise.all([first.stop(true), second.stop(true)]);
  });

  test("not steered when the port has one socket, or none of this process's", async () => {
    const only = serve(a1, 0);
    expect(steerToNewest(only.port!)).toBeUndefined();
    await only.stop(true);
    expect(steerToNewest(only.port!)).toBeUndefined();
  });
});

function spec(port: number, a: Pem): HttpListenerSpec {
  const tls: TlsListenerSpec = {
    policies: [
      { hosts: [A], ...policyPem(a), requireClientCert: false },
      { hosts: [B, "*"], ...policyPem(b), requireClientCert: false },
    ],
    selectPolicy: () => undefined,
    defaultPolicy: 1,
    minVersion: "TLSv1.2",
  };
  return {
    kind: "http",
    name: "swap",
    address: "127.0.0.1",
    port,
    tls,
    handler: async (req) =>
      new URL(req.url).pathname === "/slow"
        ? (await Bun.sleep(1_500), new Response("slow"))
        : new Response("ok"),
  };
}
const policyPem = (p: Pem) => ({ certPem: pemOf(p).cert, keyPem: pemOf(p).key });

describe.skipIf(!linux)("bun-serve's updateTls", () => {
  test("the next handshake gets the new certificate on the same port; a request in flight completes", async () => {
    const listener = await startBunServe(spec(0, a1));
    try {
      const port = listener.port;
      expect(await handshake(port, A)).toBe(fingerprint(a1));
      const slow = fetch(`https://127.0.0.1:${port}/slow`, { tls: { rejectUnauthorized: false } }).then((r) =>
        r.text(),
      );
      await Bun.sleep(100);
      expect(await listener.updateTls!(spec(0, a2).tls!)).toBe(true);
      for (let i = 0; i < 20; i++) expect(await handshake(port, A)).toBe(fingerprint(a2));
      // The host whose certificate did not change, and a name no server lists ("*": B's).
      expect(await handshake(port, B)).toBe(fingerprint(b));
      expect(await handshake(port, "other.swap.test")).toBe(fingerprint(b));
      expect(await slow).toBe("slow");
    } finally {
      await listener.close();
    }
  });

  test("a port another socket holds is still refused, though bun-serve binds it with SO_REUSEPORT", async () => {
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, "127.0.0.1", r));
    const port = (held.address() as { port: number }).port;
    await expect(startBunServe(spec(port, a1))).rejects.toThrow("the port is in use");
    held.close();
    // And a second bun-serve on a bun-serve's port.
    const listener = await startBunServe(spec(0, a1));
    await expect(startBunServe(spec(listener.port, a1))).rejects.toThrow("the port is in use");
    await listener.close();
  });
});
