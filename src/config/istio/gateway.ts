// Istio Gateway → listeners. Servers on one port become one listener (Istio builds one Envoy
// listener per port too): HTTP (also HTTP2 and GRPC), HTTPS (TLS terminated, server-tls.ts), TCP
// (bytes to the VirtualServices' tcp routes) or TLS with PASSTHROUGH (by SNI to their tls
// routes). `credentialName` is resolved by the caller (sources.ts).
// Field reference: https://istio.io/latest/docs/reference/config/networking/gateway/
import type { CredentialConfig, ListenerConfig, TlsServerConfig } from "../model.ts";
import { buildPassthroughServers } from "../tcp-route.ts";
import { formatPath } from "../yaml-locate.ts";
import { extraKeys, translatedReporter, type IstioDoc } from "./document.ts";
import { passthroughServerOk, terminatedServer } from "./server-tls.ts";

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

const SERVER_FIELDS = ["port", "hosts", "tls", "name", "bind", "defaultEndpoint"];

export function translateGateway(doc: IstioDoc, opts: GatewayOptions): TranslatedGateway {
  const spec = (doc.raw.spec ?? {}) as { servers?: unknown; selector?: unknown };
  const servers = Array.isArray(spec.servers) ? spec.servers : [];
  if (!Array.isArray(spec.servers) || servers.length === 0) doc.ctx.report(["spec", "servers"], "expected a non-empty list of servers");
  for (const k of extraKeys(spec, ["servers", "selector"])) doc.ctx.report(["spec", k], `unknown field "${k}" in a Gateway spec`);
  // `selector` picks the ingress pods in Kubernetes; here this process is the gateway.

  const byPort = new Map<number, { protocol: string; entries: { server: Record<string, unknown>; index: number }[] }>();
  servers.forEach((s, i) => {
    const at = ["spec", "servers", i];
    if (typeof s !== "object" || s === null) return doc.ctx.report(at, "expected a server mapping");
    const server = s as Record<string, unknown>;
    for (const k of extraKeys(server, SERVER_FIELDS)) doc.ctx.report([...at, k], `unknown field "${k}" in a Gateway server`);
    if (server.bind !== undefined) doc.ctx.report([...at, "bind"], "not supported by Portico: use --bind for the address");
    if (server.defaultEndpoint !== undefined) doc.ctx.report([...at, "defaultEndpoint"], "not supported by Portico: it applies to sidecars only");
    const port = server.port as { number?: unknown; protocol?: unknown; name?: unknown; targetPort?: unknown } | undefined;
    if (typeof port?.number !== "number" || !Number.isInteger(port.number) || port.number < 1 || port.number > 65535) {
      return doc.ctx.report([...at, "port", "number"], "expected a port number 1..65535");
    }
    const protocol = typeof port.protocol === "string" ? port.protocol.toUpperCase() : "";
    if (!["HTTP", "HTTPS", "TCP", "TLS", "HTTP2", "GRPC"].includes(protocol)) {
      return doc.ctx.report([...at, "port", "protocol"], `expected HTTP, HTTPS, TCP or TLS, got ${JSON.stringify(port.protocol)}`);
    }
    const group = byPort.get(port.number) ?? { protocol, entries: [] };
    if (group.protocol !== protocol) {
      const mixed = [group.protocol, protocol].sort().join(",") === "HTTPS,TLS" ? " (Portico cannot terminate some names and pass others through on one port)" : "";
      return doc.ctx.report([...at, "port", "protocol"], `port ${port.number} already serves ${group.protocol}; one port serves one protocol${mixed}`);
    }
    group.entries.push({ server, index: i });
    byPort.set(port.number, group);
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
        hosts.push(...hostsOf(server, doc, index));
        const tls = (server.tls ?? {}) as Record<string, unknown>;
        for (const k of extraKeys(tls, ["httpsRedirect"])) doc.ctx.report(["spec", "servers", index, "tls", k], `only httpsRedirect applies to an ${group.protocol} server`);
        if (tls.httpsRedirect !== undefined && typeof tls.httpsRedirect !== "boolean") doc.ctx.report(["spec", "servers", index, "tls", "httpsRedirect"], "expected true or false");
        redirects.add(tls.httpsRedirect === true);
      }
      if (redirects.size > 1) doc.ctx.report(["spec", "servers", first.index, "tls", "httpsRedirect"], `servers on port ${yamlPort} disagree on httpsRedirect; Portico needs one setting per port`);
      listeners.push({ protocol: "HTTP", ...common, hosts, httpsRedirect: redirects.has(true) });
    } else if (group.protocol === "HTTPS") {
      const tlsServers: TlsServerConfig[] = [];
      const servedBy = new Map<string, number>();
      for (const { server, index } of group.entries) {
        const hosts = hostsOf(server, doc, index);
        hosts.forEach((h, k) => {
          const previous = servedBy.get(h);
          if (previous !== undefined) doc.ctx.report(["spec", "servers", index, "hosts", k], `host "${h}" is already served on port ${yamlPort} by spec.servers[${previous}]`);
          else servedBy.set(h, index);
        });
        const built = terminatedServer(server, hosts, index, doc, { credential: opts.credential, addCredential: (c) => credentials.push(c) });
        if (built) tlsServers.push(built);
      }
      listeners.push({ protocol: "HTTPS", ...common, servers: tlsServers });
    } else if (group.protocol === "TCP") {
      const hosts: string[] = [];
      for (const { server, index } of group.entries) {
        hosts.push(...hostsOf(server, doc, index));
        if (server.tls !== undefined) {
          doc.ctx.report(["spec", "servers", index, "tls"], "does not apply to a TCP server, which forwards bytes as they come; to route TLS by SNI without terminating it, use protocol TLS with tls.mode PASSTHROUGH");
        }
      }
      listeners.push({ protocol: "TCP", ...common, hosts });
    } else {
      // TLS: routes.yaml's builder, so a name is passed through once per port there and here.
      const ok = group.entries.filter(({ server, index }) => passthroughServerOk(server, index, doc));
      const raw = ok.map(({ server, index }) => ({ hosts: hostsOf(server, doc, index) }));
      const istioPath = (j: number) => ["spec", "servers", ok[j]!.index];
      const reporter = translatedReporter(
        (path) => (path[0] === "listeners" && path[2] === "servers" ? { doc, path: [...istioPath(Number(path[3])), ...path.slice(4)] } : undefined),
        doc,
        (message) => message.replace(/listeners\[0\]\.servers\[(\d+)\]/g, (_, j: string) => formatPath(istioPath(Number(j)))),
      );
      listeners.push({ protocol: "TLS", ...common, servers: buildPassthroughServers(raw, 0, yamlPort, reporter) });
    }
  }
  return { name: doc.name, listeners, credentials };
}

// Istio hosts may carry a namespace ("ns/host", or "*" then "/host"); there are no namespaces here.
function hostsOf(server: Record<string, unknown>, doc: IstioDoc, index: number): string[] {
  const hosts = server.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0 || !hosts.every((h) => typeof h === "string")) {
    doc.ctx.report(["spec", "servers", index, "hosts"], "expected a non-empty list of host names");
    return [];
  }
  return hosts.map((h: string) => (h.includes("/") ? h.slice(h.indexOf("/") + 1) : h).toLowerCase());
}
