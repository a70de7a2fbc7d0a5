// Istio Gateway → listeners. Servers on one port become one listener (Istio builds one Envoy
// listener per port too); `credentialName` is resolved by the caller (sources.ts).
// Field reference: https://istio.io/latest/docs/reference/config/networking/gateway/
import type { ListenerConfig, TlsServerConfig } from "../model.ts";
import { extraKeys, type IstioDoc } from "./document.ts";

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
}

const SERVER_FIELDS = ["port", "hosts", "tls", "name", "bind", "defaultEndpoint"];
const TLS_FIELDS = ["httpsRedirect", "mode", "credentialName"];
const UNSUPPORTED_TLS: Record<string, string> = {
  serverCertificate: "file-path certificates are not supported yet; use credentialName",
  privateKey: "file-path certificates are not supported yet; use credentialName",
  caCertificates: "file-path certificates are not supported yet; use credentialName",
  subjectAltNames: "client SAN checks are not supported yet",
  verifyCertificateSpki: "SPKI pinning is not supported yet",
  verifyCertificateHash: "certificate pinning is not supported yet",
  minProtocolVersion: "protocol version limits are not supported yet (TLS 1.2 is the minimum)",
  maxProtocolVersion: "protocol version limits are not supported yet",
  cipherSuites: "cipher suite selection is not supported yet",
  caCrl: "certificate revocation lists are not supported yet",
  credentialNames: "several credentials per server are not supported",
};

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
      return doc.ctx.report([...at, "port", "protocol"], `port ${port.number} already serves ${group.protocol}; one port serves one protocol`);
    }
    group.entries.push({ server, index: i });
    byPort.set(port.number, group);
  });

  const listeners: ListenerConfig[] = [];
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
        redirects.add(tls.httpsRedirect === true);
      }
      if (redirects.size > 1) doc.ctx.report(["spec", "servers", first.index, "tls", "httpsRedirect"], `servers on port ${yamlPort} disagree on httpsRedirect; Portico needs one setting per port`);
      listeners.push({ protocol: "HTTP", ...common, hosts, httpsRedirect: redirects.has(true) });
    } else if (group.protocol === "HTTPS") {
      const tlsServers: TlsServerConfig[] = [];
      for (const { server, index } of group.entries) {
        const built = tlsServer(server, index, doc, opts);
        if (built) tlsServers.push(built);
      }
      listeners.push({ protocol: "HTTPS", ...common, servers: tlsServers });
    } else {
      doc.ctx.report(["spec", "servers", first.index, "port", "protocol"], `protocol ${group.protocol} is not supported yet`);
    }
  }
  return { name: doc.name, listeners };
}

function tlsServer(server: Record<string, unknown>, index: number, doc: IstioDoc, opts: GatewayOptions): TlsServerConfig | undefined {
  const at = ["spec", "servers", index, "tls"];
  const tls = server.tls as Record<string, unknown> | undefined;
  if (!tls) {
    doc.ctx.report(at, "an HTTPS server needs tls with mode and credentialName");
    return undefined;
  }
  for (const k of extraKeys(tls, TLS_FIELDS)) {
    doc.ctx.report([...at, k], UNSUPPORTED_TLS[k] ? `not supported by Portico: ${UNSUPPORTED_TLS[k]}` : `unknown field "${k}" in Gateway tls`);
  }
  const mode = tls.mode ?? "SIMPLE";
  if (mode !== "SIMPLE" && mode !== "MUTUAL") {
    doc.ctx.report([...at, "mode"], `mode ${String(mode)} is not supported yet on HTTPS servers (SIMPLE, MUTUAL)`);
    return undefined;
  }
  if (typeof tls.credentialName !== "string") {
    doc.ctx.report([...at, "credentialName"], "expected the name of a Secret document or of a credential folder");
    return undefined;
  }
  const credential = opts.credential(tls.credentialName, doc, [...at, "credentialName"]);
  if (credential === undefined) return undefined;
  return { hosts: hostsOf(server, doc, index), mode, credential, source: doc.ctx.source(["spec", "servers", index]) };
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
