// Pebble, Let's Encrypt's test CA (Debian's `pebble` package), for the ACME end-to-end tests:
// its own HTTPS certificate made with Portico's generator, its challenges validated against
// Portico's ports (`httpPort`, `tlsPort`), every name resolved to 127.0.0.1 by
// pebble-challtestsrv's DNS, validation without Pebble's random sleeps (PEBBLE_VA_NOSLEEP).
import { connect } from "node:net";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateCa, generateLeaf, loadSigningCa } from "../../src/certs/generate.ts";
import { freePorts, sleep } from "./net.ts";

export interface Pebble {
  directory: string;
  /** The CA bundle that Pebble's own HTTPS (the directory) chains to: for `caBundle`. */
  caFile: string;
  /** Pebble's issuing root, fetched from its management interface: what clients trust. */
  rootFile: string;
  /** Makes Pebble's DNS answer `host` with `address` (pebble-challtestsrv's management API). */
  addA(host: string, address: string): Promise<void>;
  /** Forgets the addresses added for `host` (add-a appends): it resolves to 127.0.0.1 again. */
  clearA(host: string): Promise<void>;
  /** Orders Pebble has received so far (POSTs to newOrder in its log). */
  orders(): number;
  output(): string;
  stop(): Promise<void>;
}

export async function startPebble(opts: {
  httpPort: number;
  tlsPort: number;
  /** Seconds a certificate is valid (Pebble's certificateValidityPeriod). */
  validitySeconds?: number;
  /** Require External Account Binding with this key (RFC 8555 §7.3.4); hmacKey base64url. */
  eab?: { kid: string; hmacKey: string };
  env?: Record<string, string>;
}): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), "portico-pebble-"));
  const ca = await generateCa({ name: "Pebble test listener CA" });
  const leaf = await generateLeaf({
    ca: await loadSigningCa(ca.certPem, ca.keyPem),
    usage: "server",
    names: ["localhost", "127.0.0.1"],
  });
  const caFile = join(dir, "ca.crt");
  writeFileSync(caFile, ca.certPem);
  writeFileSync(join(dir, "pebble.crt"), leaf.certPem);
  writeFileSync(join(dir, "pebble.key"), leaf.keyPem);
  const [acmePort, mgmtPort, dnsPort, challMgmt] = await freePorts(4);
  const config: Record<string, unknown> = {
    listenAddress: `127.0.0.1:${acmePort}`,
    managementListenAddress: `127.0.0.1:${mgmtPort}`,
    certificate: join(dir, "pebble.crt"),
    privateKey: join(dir, "pebble.key"),
    httpPort: opts.httpPort,
    tlsPort: opts.tlsPort,
    ocspResponderURL: "",
    externalAccountBindingRequired: opts.eab !== undefined,
  };
  if (opts.eab) config.externalAccountMACKeys = { [opts.eab.kid]: opts.eab.hmacKey };
  if (opts.validitySeconds) config.certificateValidityPeriod = opts.validitySeconds;
  writeFileSync(join(dir, "pebble.json"), JSON.stringify({ pebble: config }));
  let out = "";
  const procs: ChildProcess[] = [];
  const run = (cmd: string, args: string[], env: Record<string, string>) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    p.stdout!.on("data", (d) => (out += d));
    p.stderr!.on("data", (d) => (out += d));
    procs.push(p);
    return p;
  };
  const stop = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode !== null) return r();
            p.once("exit", () => r());
            p.kill("SIGKILL");
          }),
      ),
    );
  };
  run(
    "pebble-challtestsrv",
    [
      "-dns01",
      `127.0.0.1:${dnsPort}`,
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-management",
      `127.0.0.1:${challMgmt}`,
      "-defaultIPv6",
      "",
    ],
    {},
  );
  run("pebble", ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`], {
    PEBBLE_VA_NOSLEEP: "1",
    PEBBLE_WFE_NONCEREJECT: "0",
    PEBBLE_AUTHZREUSE: "0",
    ...opts.env,
  });
  const deadline = Date.now() + 15_000;
  // Pebble says when its directory is up, but its management listener (the root, fetched next)
  // and the challenge server's (add-a) may come up later: they are waited for by connecting.
  while (
    !/ACME directory available/.test(out) ||
    !(await accepts(mgmtPort!)) ||
    !(await accepts(challMgmt!))
  ) {
    if (Date.now() > deadline || procs.some((p) => p.exitCode !== null)) {
      await stop();
      throw new Error(`pebble did not start:\n${out}`);
    }
    await sleep(25);
  }
  const root = await get(`https://127.0.0.1:${mgmtPort}/roots/0`, ca.certPem);
  const rootFile = join(dir, "pebble-root.crt");
  writeFileSync(rootFile, root);
  return {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caFile,
    rootFile,
    addA: async (host, address) => {
      const res = await fetch(`http://127.0.0.1:${challMgmt}/add-a`, {
        method: "POST",
        body: JSON.stringify({ host, addresses: [address] }),
      });
      if (!res.ok) throw new Error(`add-a ${host}: ${res.status}`);
    },
    clearA: async (host) => {
      const res = await fetch(`http://127.0.0.1:${challMgmt}/clear-a`, {
        method: "POST",
        body: JSON.stringify({ host }),
      });
      if (!res.ok) throw new Error(`clear-a ${host}: ${res.status}`);
    },
    orders: () => (out.match(/POST \/order-plz/g) ?? []).length,
    output: () => out,
    stop,
  };
}

function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve(body));
    })
      .on("error", reject)
      .end();
  });
}

/** Whether something accepts TCP connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}
