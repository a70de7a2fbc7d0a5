// What a start with the bundled routes.yaml loads: not the pure-TypeScript X.509 stack, whose
// import alone is about 1 MiB of the compiled binary's idle RSS (src/certs/x509-loader.ts).
// Each case runs in a fresh process, since this test runner has loaded everything already.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const X509_STACK = /node_modules\/(@peculiar\/|asn1js\/|tsyringe\/|reflect-metadata\/)/;

/** The modules loaded once `portico <args>` has returned, in a fresh Bun process. */
function loadedBy(args: string[]): string[] {
  const script = `
    const { main } = await import(${JSON.stringify(join(ROOT, "src/cli/main.ts"))});
    const code = await main(${JSON.stringify(args)});
    process.stdout.write(JSON.stringify({ code, modules: Object.keys(require.cache) }));`;
  const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  const out = JSON.parse(r.stdout.slice(r.stdout.indexOf('{"code"')));
  expect(out.code).toBe(0);
  return out.modules;
}

describe("startup imports", () => {
  test("validating the bundled routes.yaml (a MUTUAL host among them) loads no X.509 stack", () => {
    const modules = loadedBy(["validate", "-c", "routes.yaml"]);
    expect(modules.some((m) => m.endsWith("src/provision/credentials.ts"))).toBe(true);
    expect(modules.filter((m) => X509_STACK.test(m))).toEqual([]);
  });

  test("`certs inspect` loads it", () => {
    const modules = loadedBy(["certs", "inspect", "certs/webapp-credential/tls.crt"]);
    expect(modules.some((m) => X509_STACK.test(m))).toBe(true);
  });
});
