// The config fuzzer (test/fuzz/) with a fixed seed and a bounded number of cases: mutated
// routes.yaml and Istio files through what `portico validate` runs must each end in a plan or a
// ConfigError naming file and line or field, in bounded time and memory. Below it, the minimal
// inputs of what the fuzzer found, each once a crash, a hang or a vague message.
// Longer runs: `npm run fuzz` (scripts/fuzz-config.ts).
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { porticoCommand } from "../../scripts/runtimes.ts";
import { composeConfig } from "../../src/config/sources/compose.ts";
import { configErrors, routesYamlErrors } from "../helpers/config-errors.ts";
import { type Finding, fuzz } from "../fuzz/run.ts";
import { writeConfig } from "../helpers/portico.ts";
import { yaml } from "../helpers/yaml.ts";

describe("config fuzzing, seed 20261130", () => {
  test("400 mutated configurations: each a plan or a ConfigError naming file and field", async () => {
    const findings: Finding[] = [];
    const summary = await fuzz({
      seed: 20261130,
      cases: 400,
      cliEvery: 200,
      onFinding: (f) => findings.push(f),
    });
    const shown = findings.map((f) => `case ${f.index} [${f.mutations.join(", ")}]: ${f.finding}`);
    expect(shown).toEqual([]);
    expect(summary.cases).toBe(400);
    // Both ends are reached: some cases still load, most are refused, two go through the CLI.
    expect(summary.plans).toBeGreaterThan(20);
    expect(summary.configErrors).toBeGreaterThan(250);
    expect(summary.cliCases).toBe(2);
  }, 60_000);
});

/** Milliseconds `fn` takes. */
function timed(fn: () => void): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

describe("what the fuzzer found", () => {
  test("a null body of a direct response: its type is refused, no TypeError", () => {
    const text = `listeners: [{ port: 80, protocol: HTTP }]
routes: [{ hosts: ["*"], http: [{ directResponse: { status: 204, body: null } }] }]`;
    expect(routesYamlErrors(text)).toEqual([
      "routes.yaml:2: routes[0].http[0].directResponse.body: expected a string, or a mapping with string or bytes, got an empty value",
    ]);
  });

  test("a Maglev table size of 1e400: refused, where the prime check once looped for ever", () => {
    // Infinity failed the integer check, and the pipe still ran isPrime on it. A child process,
    // so that a regression fails the test instead of hanging the suite.
    const file = writeConfig(
      yaml`
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: webapp }
      spec:
        host: webapp
        trafficPolicy:
          loadBalancer:
            consistentHash: { httpCookie: { name: user }, maglev: { tableSize: 1e400 } }
    `,
      "dr.yaml",
    );
    const args = ["validate", "-c", file, "--service", "webapp=http://127.0.0.1:9080"];
    const [cmd, ...rest] = porticoCommand("bun", args);
    const r = spawnSync(cmd!, rest, { encoding: "utf8", timeout: 10_000 });
    expect(r.stderr).toBe(
      "portico: invalid configuration:\n" +
        `  ${file}:8: spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: ` +
        "expected a prime number up to 5000011, such as 65537, got Infinity\n",
    );
    expect(r.status).toBe(1);
  });

  test("a 2 MB value where a name is expected: no quadratic did-you-mean", () => {
    // editDistance against every option allocated a row per character: seconds and hundreds of MB.
    let lines: string[] = [];
    const ms = timed(() => {
      lines = routesYamlErrors(`listeners: [{ port: 80, protocol: HTTP${"S".repeat(2_000_000)} }]`);
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(
      'routes.yaml:1: listeners[0].protocol: expected HTTP or HTTPS or TCP or TLS, got "HTTPSSSS',
    );
    expect(lines[0]!.length).toBeLessThan(200);
    expect(ms).toBeLessThan(500);
  });

  test("a billion-laughs alias bomb is refused before it is expanded, at the line of its first alias", () => {
    // The yaml package's own bound (maxAliasCount) walks the whole document once per alias
    // nested in an anchor before it refuses: 16 s for a 630 kB file the fuzzer made.
    const bomb = (levels: number) =>
      [
        "listeners: [{ port: 80, protocol: HTTP }]",
        'a0: &a0 ["lol"]',
        ...Array.from(
          { length: levels },
          (_, l) => `a${l + 1}: &a${l + 1} [${Array(10).fill(`*a${l}`).join(", ")}]`,
        ),
      ].join("\n");
    const BOMB =
      "aliases expand to more than 10000 values, or into themselves; refused as a resource " +
      'exhaustion attack ("billion laughs")';
    expect(routesYamlErrors(bomb(8))).toEqual([`routes.yaml:3: ${BOMB}`]);
    // In an Istio file too, where the document's kind cannot be read.
    const istio = `kind: Gateway\nmetadata: { name: gw }\n${bomb(8).split("\n").slice(1).join("\n")}`;
    expect(configErrors(() => composeConfig(["gw.yaml"], [{ file: "gw.yaml", text: istio }]))).toEqual([
      `gw.yaml:4: ${BOMB}`,
    ]);
    // A smaller one is data like any other (here: fields routes.yaml does not have).
    expect(routesYamlErrors(bomb(2))[0]).toStartWith('routes.yaml:2: a0: unknown field "a0"');
    // An alias inside its own anchor would expand for ever.
    expect(routesYamlErrors("listeners: &a [{ port: 80, protocol: HTTP, x: *a }]")).toEqual([
      `routes.yaml:1: ${BOMB}`,
    ]);
  });

  test("a YAML 1.1 merge of something not a mapping: refused at the line of its <<", () => {
    const text = "%YAML 1.1\n---\nlisteners: [{ port: 80, protocol: HTTP }]\nx:\n  <<: 5\n";
    expect(routesYamlErrors(text)).toEqual([
      "routes.yaml:5: invalid YAML: Merge sources must be maps or map aliases",
    ]);
  });

  test("nesting a thousand deep is refused at once, with its line, on every way in", () => {
    const deep = (n: number) => `${"[".repeat(n)}1${"]".repeat(n)}`;
    let lines: string[] = [];
    const ms = timed(() => {
      lines = routesYamlErrors(
        `listeners: [{ port: 80, protocol: HTTP }]\nroutes:\n  - hosts: ${deep(5000)}\n`,
      );
    });
    expect(lines).toEqual([
      "routes.yaml:3: nested more than 64 levels deep; no configuration needs that many",
    ]);
    expect(ms).toBeLessThan(1000);
    const vs = `kind: VirtualService\nmetadata: { name: vs }\nspec:\n  hosts: ${deep(100)}\n`;
    expect(configErrors(() => composeConfig(["vs.yaml"], [{ file: "vs.yaml", text: vs }]))).toEqual([
      "vs.yaml:4: nested more than 64 levels deep; no configuration needs that many",
    ]);
    // Deeper still, the yaml package's parser overflows its stack (where depends on how deep
    // the stack already was); the words are the same, once.
    expect(routesYamlErrors(`listeners: ${deep(30_000)}\n`)).toEqual([
      "routes.yaml:1: nested more than 64 levels deep; no configuration needs that many",
    ]);
    // 60 levels are read, and refused for what they hold.
    expect(routesYamlErrors(`listeners: ${deep(59)}\n`)).toEqual([
      "routes.yaml:1: listeners[0]: expected a mapping with port and protocol, got a list",
    ]);
  });

  test("a thousand-deep block with a hundred aliases: refused for its depth, in well under a second", () => {
    // yaml's toJS and Alias.resolve walk the document with its `visit`, which copies the path
    // at each level: that took ten seconds here.
    const nested = Array.from({ length: 1000 }, (_, i) => `${" ".repeat(i)}- `).join("\n");
    const aliases = Array.from({ length: 120 }, (_, i) => `k${i}: *x`).join("\n");
    const text = `listeners: &x [{ port: 80, protocol: HTTP }]\n${aliases}\nextra:\n${nested}x\n`;
    let lines: string[] = [];
    const ms = timed(() => {
      lines = configErrors(() => composeConfig(["r.yaml"], [{ file: "r.yaml", text }]));
    });
    expect(lines).toEqual(["r.yaml:186: nested more than 64 levels deep; no configuration needs that many"]);
    expect(ms).toBeLessThan(1000);
  });
});
