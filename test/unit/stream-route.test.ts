// Choosing where a TCP or TLS-passthrough connection goes: weighted upstreams, the Gateway
// servers' SNI gate, exact before wildcard, and the first TCP route for a port.
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import type {
  StreamRoutePlan,
  TcpListenerPlan,
  TlsPassthroughListenerPlan,
} from "../../src/provision/plan.ts";
import { provision } from "../../src/provision/provision.ts";
import { passthroughRoute, streamListenerSpec } from "../../src/tcp/route.ts";
import { pickWeighted as pickUpstream } from "../../src/util/random.ts";
import { yaml } from "../helpers/yaml.ts";

describe("route selection", () => {
  const route = (weights: number[]): StreamRoutePlan => ({
    name: "r",
    upstreams: weights.map((weight, i) => ({ service: `s${i}`, host: "127.0.0.1", port: 1000 + i, weight })),
    totalWeight: weights.reduce((a, b) => a + b, 0),
  });

  test("weighted choice, weight 0 never chosen", () => {
    const r = route([1, 0, 3]);
    expect(pickUpstream(r, () => 0)!.service).toBe("s0");
    expect(pickUpstream(r, () => 0.24)!.service).toBe("s0");
    expect(pickUpstream(r, () => 0.25)!.service).toBe("s2");
    expect(pickUpstream(r, () => 0.9999)!.service).toBe("s2");
    expect(pickUpstream(route([0]))).toBeUndefined();
    expect(pickUpstream(route([0, 0]))).toBeUndefined();
  });

  test("passthrough: the Gateway servers gate the SNI, then exact beats wildcard beats *", async () => {
    const { plan } = await provision(
      parseConfig(
        yaml`
          listeners: [{ port: 31400, protocol: TLS, servers: [{ hosts: ["*.a.test", b.test], tls: { mode: PASSTHROUGH } }] }]
          services: { wild: "tcp://127.0.0.1:1", exact: "tcp://127.0.0.1:2", any: "tcp://127.0.0.1:3" }
          routes:
            - hosts: ["*"]
              tls:
                - match: [{ sniHosts: ["*.a.test"] }]
                  route: [{ destination: wild }]
                - match: [{ sniHosts: [x.a.test] }]
                  route: [{ destination: exact }]
                - match: [{ sniHosts: ["*"] }]
                  route: [{ destination: any }]
        `,
        "routes.yaml",
      ),
    );
    const l = plan.streamListeners[0] as TlsPassthroughListenerPlan;
    const to = (sni: string | undefined) => passthroughRoute(l, sni)?.upstreams[0]!.service;
    expect(to("x.a.test")).toBe("exact");
    expect(to("X.A.test")).toBe("exact");
    expect(to("y.a.test")).toBe("wild");
    expect(to("b.test")).toBe("any");
    expect(to("c.test")).toBeUndefined(); // no server lists it
    expect(to(undefined)).toBeUndefined(); // no SNI: only a "*" server would take it
    expect(streamListenerSpec(l).sni).toBe(true);
    expect(streamListenerSpec(l).backend("y.a.test")).toMatchObject({ host: "127.0.0.1", port: 1 });
  });

  test("TCP: the first route for the port, across entries; http(s) services default their ports", async () => {
    const { plan } = await provision(
      parseConfig(
        yaml`
          listeners: [{ port: 31400, protocol: TCP }]
          services: { web: "http://web.internal", secure: "https://[::1]" }
          routes:
            - hosts: ["*"]
              tcp: [{ match: [{ port: 31400 }], route: [{ destination: web }, { destination: secure }] }]
        `,
        "routes.yaml",
      ),
    );
    const l = plan.streamListeners[0] as TcpListenerPlan;
    expect(l.route!.upstreams.map((u) => [u.host, u.port])).toEqual([
      ["web.internal", 80],
      ["::1", 443],
    ]);
    expect(streamListenerSpec(l).sni).toBe(false);
  });
});
