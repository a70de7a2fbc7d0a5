// WebSocket settings: routes.yaml's `websocket` and `idleTimeout` (Portico's own: Envoy's
// per-route upgrade_configs and RouteAction.idle_timeout), their defaults, what a listener then
// needs of its adapter, and a VirtualService that names them.
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { loadSources } from "../../src/cli/config-files.ts";
import { DEFAULT_UPGRADE_IDLE_TIMEOUT_MS } from "../../src/config/defaults.ts";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { selectAdapter } from "../../src/listeners/select.ts";
import type { HttpListenerSpec } from "../../src/listeners/_shared/types.ts";
import type { ProxyAction } from "../../src/provision/route-plan.ts";
import { provision } from "../../src/provision/provision.ts";
import { routesYamlErrors as errors } from "../helpers/config-errors.ts";
import { writeConfig } from "../helpers/portico.ts";

const yaml = (routes: string) => `
listeners:
  - { name: web, port: 8080, protocol: HTTP }
  - { name: redirect, port: 8081, protocol: HTTP, httpsRedirect: true }
services:
  echo: http://127.0.0.1:9
routes:
${routes}
`;

describe("routes.yaml websocket and idleTimeout", () => {
  test("default: upgrades forwarded, idle timeout Envoy's 5 min; the listener needs a tunnel", async () => {
    const { plan } = await provision(
      parseConfig(yaml("  - hosts: ['*']\n    http:\n      - route: [{ destination: echo }]"), "r.yaml"),
    );
    const web = plan.listeners.find((l) => l.name === "web")!;
    expect(web.kind === "http" && web.upgrades).toBe(true);
    // An httpsRedirect listener answers every request, upgrades included, with a 301.
    const redirect = plan.listeners.find((l) => l.name === "redirect")!;
    expect(redirect.kind === "http" && redirect.upgrades).toBe(false);
    const action = (
      web.kind === "http" ? web.vhosts.match("x")!.routes[0]!.action : undefined
    ) as ProxyAction;
    expect(action.upgrades).toBe(true);
    expect(action.idleTimeoutMs).toBe(DEFAULT_UPGRADE_IDLE_TIMEOUT_MS);
    expect(DEFAULT_UPGRADE_IDLE_TIMEOUT_MS).toBe(300_000);
  });

  test("websocket: false and idleTimeout compile; a listener with no upgrading route needs none", async () => {
    const routes = `
  - hosts: ['*']
    http:
      - match: [{ uri: { prefix: /off } }]
        websocket: false
        route: [{ destination: echo }]
      - idleTimeout: 90s
        route: [{ destination: echo }]`;
    const none = `
  - hosts: ['*']
    http:
      - match: [{ uri: { prefix: /off } }]
        websocket: false
        route: [{ destination: echo }]
      - directResponse: { status: 200 }`;
    const web = (await provision(parseConfig(yaml(routes), "r.yaml"))).plan.listeners[0]!;
    const other = (await provision(parseConfig(yaml(none), "r.yaml"))).plan.listeners[0]!;
    if (web.kind !== "http" || other.kind !== "http") throw new Error("HTTP listeners expected");
    const [off, idle] = web.vhosts.match("x")!.routes.map((r) => r.action as ProxyAction);
    expect(off!.upgrades).toBe(false);
    expect(idle!.upgrades).toBe(true);
    expect(idle!.idleTimeoutMs).toBe(90_000);
    expect(web.upgrades).toBe(true);
    expect(other.upgrades).toBe(false);
  });

  test("wrong values and fields on a route without destinations are errors", () => {
    const bad = `
  - hosts: ['*']
    http:
      - websocket: "no"
        idleTimeout: soon
        route: [{ destination: echo }]
      - websocket: false
        directResponse: { status: 200 }`;
    const got = errors(yaml(bad));
    expect(got.some((e) => e.includes("routes[0].http[0].websocket") && e.includes("true or false"))).toBe(
      true,
    );
    expect(got.some((e) => e.includes("routes[0].http[0].idleTimeout"))).toBe(true);
    expect(
      got.some((e) => e.includes("routes[0].http[1].websocket") && e.includes("only allowed with route")),
    ).toBe(true);
  });

  test("a VirtualService that names them is refused: they are not Istio fields", async () => {
    const path = writeConfig(
      `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: gw }
spec:
  servers:
    - port: { number: 8080, name: http, protocol: HTTP }
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: vs }
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
    - websocket: false
      idleTimeout: 10s
      route: [{ destination: { host: echo } }]
`,
      "istio.yaml",
    );
    const message = await loadSources([path], { warn: () => {} }).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(message).toContain("spec.http[0].websocket: is a routes.yaml field, not an Istio HTTPRoute field");
    expect(message).toContain("spec.http[0].idleTimeout: is a routes.yaml field");
  });
});

describe("the websocket need", () => {
  const spec = (upgrades: boolean): HttpListenerSpec => ({
    kind: "http",
    name: "l",
    address: "127.0.0.1",
    port: 1,
    tls: {
      policies: [{ hosts: ["*"], certPem: "", keyPem: "", requireClientCert: false }],
      selectPolicy: () => 0,
      defaultPolicy: 0,
      minVersion: "TLSv1.2",
    },
    handler: () => new Response(),
    upgrades,
  });

  test("Bun.serve alone cannot tunnel an upgrade: bun-sni takes the listener", () => {
    expect(selectAdapter(spec(false), "bun").name).toBe("bun-serve");
    expect(selectAdapter(spec(true), "bun").name).toBe("bun-sni");
    expect(() => selectAdapter(spec(true), "bun", "bun-serve")).toThrow(
      "needs WebSocket upgrades as a byte tunnel",
    );
    for (const rt of ["deno", "node"] as const)
      expect(selectAdapter(spec(true), rt).name).not.toBe("bun-serve");
  });
});
