// Istio Gateway → listeners. Servers on one port become one listener (Istio builds one Envoy
// listener per port too): HTTP (also HTTP2 and GRPC), HTTPS (TLS terminated, gateway-tls.ts), TCP
// (bytes to the VirtualServices' tcp routes) or TLS with PASSTHROUGH (by SNI to their tls
// routes). `credentialName` is resolved by the caller (sources/compose.ts).
// Field reference: https://istio.io/latest/docs/reference/config/networking/gateway/
import * as v from "valibot";
import type { CredentialConfig, ListenerConfig, TlsServerConfig } from "../model.ts";
import { checked, describeValue, list, mapping, port, text, validate } from "../schema-kit.ts";
import { didYouMean } from "../suggest.ts";
import { HTTP3_REFUSED } from "../service-url.ts";
import { hostsOncePerPort } from "../listener-checks.ts";
import { buildPassthroughServers } from "../tcp-route.ts";
import type { FieldPath } from "../yaml-locate.ts";
import type { IstioDoc } from "./document.ts";
import { passthroughServerOk, ServerTlsSchema, terminatedServer } from "./gateway-tls.ts";

export interface GatewayOptions {
  /** Port numbers as written in the YAML → the port Portico binds (`--port 443=8443`). */
  portMap: Map<number, number>;
  /** Address the Gateway's listeners bind (`--bind`), default 0.0.0.0 like the ingress pod. */
  address: string;
  /** Resolves a credentialName to a credential name known to the config, or reports why not. */
  credential: (name: string, doc: IstioDoc, at: (string | number)[]) => string | undefined;
}

export interface TranslatedGateway {
  name: string;
  listeners: ListenerConfig[];
  /** Made from the file form of a server's tls (serverCertificate, privateKey, caCertificates). */
  credentials: CredentialConfig[];
}

const PROTOCOLS = ["HTTP", "HTTPS", "TCP", "TLS", "HTTP2", "GRPC"];
const PROTOCOL = "HTTP, HTTPS, TCP or TLS";
// Istio reads protocol names in any case.
const protocol = checked(PROTOCOL, (value) => {
  if (PROTOCOLS.includes(value.toUpperCase())) return undefined;
  if (/^(HTTP3|H3|QUIC)$/i.test(value)) return HTTP3_REFUSED;
  return `expected ${PROTOCOL}, got ${describeValue(value)}${didYouMean(value, PROTOCOLS)}`;
});

// https://istio.io/latest/docs/reference/config/networking/gateway/#Server
const ServerSchema = mapping(
  "a mapping with port, hosts and tls",
  {
    port: mapping("a mapping with number, protocol and name", {
      number: port,
      protocol,
      name: v.optional(text("a port name")),
      targetPort: v.optional(port),
    }),
    hosts: list("a non-empty list of host names", text("a host name", 1), 1),
    // Checked by the listener kind the port's protocol makes (gateway-tls.ts).
    tls: v.optional(v.unknown()),
    name: v.optional(text("a server name")),
  },
  {
    bind: "use --bind for the address",
    defaultEndpoint: "it applies to sidecars only",
  },
);
type RawServer = v.InferOutput<typeof ServerSchema>;

const SpecSchema = mapping("a mapping with servers", {
  // Each server is checked on its own, so one server's mistake does not hide another's.
  servers: list("a non-empty list of servers", v.unknown(), 1),
  // Picks the ingress pods in Kubernetes; here this process is the gateway.
  selector: v.optional(v.unknown()),
});

export function translateGateway(doc: IstioDoc, opts: GatewayOptions): TranslatedGateway {
  const spec = validate(SpecSchema, doc.raw.spec ?? {}, ["spec"], doc.ctx);
  const byPort = new Map<number, { protocol: string; entries: { server: RawServer; index: number }[] }>();
  spec?.servers.forEach((raw, i) => {
    const at = ["spec", "servers", i];
    const server = validate(ServerSchema, raw, at, doc.ctx);
    if (!server) return;
    const protocol = server.port.protocol.toUpperCase();
    const group = byPort.get(server.port.number) ?? { protocol, entries: [] };
    if (group.protocol !== protocol) {
      const mixed =
        [group.protocol, protocol].sort().join(",") === "HTTPS,TLS"
          ? " (Portico cannot terminate some names and pass others through on one port)"
          : "";
      return doc.ctx.report(
        [...at, "port", "protocol"],
        `port ${server.port.number} already serves ${group.protocol}; one port serves one protocol${mixed}`,
      );
    }
    group.entries.push({ server, index: i });
    byPort.set(server.port.number, group);
  });

  const listeners: ListenerConfig[] = [];
  const credentials: CredentialConfig[] = [];
  for (const [yamlPort, group] of byPort) {
    const port = opts.portMap.get(yamlPort) ?? yamlPort;
    const first = group.entries[0]!;
    const name = `${doc.name}-${yamlPort}`;
    const source = doc.ctx.source(["spec", "servers", first.index]);
    const common = { name, address: opts.address, port, source };
    if (group.protocol === "HTTP" || group.protocol === "HTTP2" || group.protocol === "GRPC") {
      const hosts: string[] = [];
      const redirects = new Set<boolean>();
      for (const { server, index } of group.entries) {
        hosts.push(...hostsOf(server));
        const at = ["spec", "servers", index, "tls"];
        const tls =
          server.tls === undefined ? {} : (validate(ServerTlsSchema, server.tls, at, doc.ctx) ?? {});
        for (const k of Object.keys(tls)) {
          if (k !== "httpsRedirect")
            doc.ctx.report([...at, k], `only httpsRedirect applies to an ${group.protocol} server`);
        }
        redirects.add(tls.httpsRedirect === true);
      }
      if (redirects.size > 1)
        doc.ctx.report(
          ["spec", "servers", first.index, "tls", "httpsRedirect"],
          `servers on port ${yamlPort} disagree on httpsRedirect; Portico needs one setting per port`,
        );
      listeners.push({ protocol: "HTTP", ...common, hosts, httpsRedirect: redirects.has(true) });
    } else if (group.protocol === "HTTPS") {
      const tlsServers: TlsServerConfig[] = [];
      const placed = group.entries.map(({ server, index }) => ({
        hosts: hostsOf(server),
        at: ["spec", "servers", index],
      }));
      const allHosts = hostsOncePerPort(placed, yamlPort, doc.ctx, "host", "served");
      for (const [j, { server, index }] of group.entries.entries()) {
        const hosts = allHosts[j]!;
        const built = terminatedServer(server, hosts, index, doc, {
          credential: opts.credential,
          addCredential: (c) => credentials.push(c),
        });
        if (built) tlsServers.push(built);
      }
      listeners.push({ protocol: "HTTPS", ...common, servers: tlsServers });
    } else if (group.protocol === "TCP") {
      const hosts: string[] = [];
      for (const { server, index } of group.entries) {
        hosts.push(...hostsOf(server));
        if (server.tls !== undefined) {
          doc.ctx.report(
            ["spec", "servers", index, "tls"],
            "does not apply to a TCP server, which forwards bytes as they come; to route TLS by SNI " +
              "without terminating it, use protocol TLS with tls.mode PASSTHROUGH",
          );
        }
      }
      listeners.push({ protocol: "TCP", ...common, hosts });
    } else {
      // TLS: routes.yaml's builder, so a name is passed through once per port there and here.
      const ok = group.entries.filter(({ server, index }) => passthroughServerOk(server, index, doc));
      const servers = ok.map(({ server, index }): { hosts: string[]; at: FieldPath } => ({
        hosts: hostsOf(server),
        at: ["spec", "servers", index],
      }));
      listeners.push({
        protocol: "TLS",
        ...common,
        servers: buildPassthroughServers(servers, yamlPort, doc.ctx),
      });
    }
  }
  return { name: doc.name, listeners, credentials };
}

// Istio hosts may carry a namespace ("ns/host", or "*" then "/host"); there are no namespaces here.
function hostsOf(server: RawServer): string[] {
  return server.hosts.map((h) => (h.includes("/") ? h.slice(h.indexOf("/") + 1) : h).toLowerCase());
}
