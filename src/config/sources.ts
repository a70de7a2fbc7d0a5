// Every way in to one Config: `-c` files and folders holding the native routes.yaml and/or
// Istio Gateway, VirtualService and Kubernetes Secret documents (several per file, `---`),
// plus what the command line adds (--service, --port, --bind, --credentials).
import { existsSync, statSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import { ConfigError, type ConfigIssue } from "../errors.ts";
import { credentialFromSecrets, readSecret, type SecretMaterial } from "./istio/secret.ts";
import { translateGateway } from "./istio/gateway.ts";
import { translateVirtualService } from "./istio/virtual-service.ts";
import { translatedReporter, type IstioDoc } from "./istio/document.ts";
import { istioHttpRoute } from "./istio/http-route.ts";
import { istioTcpRoutes, istioTlsRoutes } from "./istio/l4-route.ts";
import { checkL4Routes } from "./tcp-route.ts";
import { Context, configFromDocument, yamlMessage } from "./load.ts";
import type { Config, CredentialConfig, ListenerConfig, ServiceConfig, VirtualHostConfig } from "./model.ts";

export interface SourceOptions {
  /** `--service name=url`: where Istio destination hosts live. */
  services?: Map<string, string>;
  /** `--port 443=8443`: ports in Gateway documents → ports bound. */
  portMap?: Map<number, number>;
  /** `--bind`: address for listeners made from Gateways (default 0.0.0.0). */
  bindAddress?: string;
  /** `--credentials DIR`: folders `DIR/<credentialName>/{tls.crt,tls.key[,ca.crt]}`. */
  credentialDirs?: string[];
  /** Things that are ignored on purpose (other kinds, unbound VirtualServices). */
  notice?: (message: string) => void;
}

const KINDS_IGNORED_NOTE = "only Gateway, VirtualService and Secret are read";
const DEFAULTS = { timeoutMs: 15_000, serverHeader: "portico" };

export async function loadSources(paths: string[], opts: SourceOptions = {}): Promise<Config> {
  const notice = opts.notice ?? (() => {});
  const issues: ConfigIssue[] = [];
  const files = await expand(paths, issues);
  const natives: Config[] = [];
  const docs: IstioDoc[] = [];

  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      issues.push({ file, line: 0, path: "", message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      continue;
    }
    const lineCounter = new LineCounter();
    const all = parseAllDocuments(text, { lineCounter, prettyErrors: false });
    if (!Array.isArray(all)) continue; // an empty file: nothing to add
    for (const doc of all) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) issues.push({ file, line: lineCounter.linePos(e.pos[0]).line, path: "", message: yamlMessage(e) });
        continue;
      }
      const raw = doc.toJS() as unknown;
      if (raw === null || raw === undefined) continue;
      const kind = typeof raw === "object" && !Array.isArray(raw) ? (raw as { kind?: unknown }).kind : undefined;
      if (kind === undefined) {
        try {
          natives.push(configFromDocument(doc, lineCounter, file));
        } catch (err) {
          if (err instanceof ConfigError) issues.push(...err.issues);
          else throw err;
        }
        continue;
      }
      const ctx = new Context(file, doc, lineCounter);
      const body = raw as Record<string, unknown>;
      const name = (body.metadata as { name?: unknown } | undefined)?.name;
      if (!["Gateway", "VirtualService", "Secret"].includes(String(kind))) {
        notice(`${file}:${ctx.source([]).line}: ${String(kind)} "${typeof name === "string" ? name : "?"}" ignored (${KINDS_IGNORED_NOTE})`);
        continue;
      }
      if (typeof name !== "string" || name === "") {
        ctx.report(["metadata", "name"], `a ${String(kind)} needs metadata.name`);
        issues.push(...ctx.issues);
        continue;
      }
      docs.push({ kind: String(kind), apiVersion: String(body.apiVersion ?? ""), name, raw: body, ctx });
    }
  }

  const config = mergeNatives(natives, files, issues);
  for (const [name, url] of opts.services ?? []) {
    const source = { file: "--service", line: 0, path: name };
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      issues.push({ ...source, message: `${url}: not a URL` });
      continue;
    }
    // As routes.yaml's services: a tcp:// URL has no origin ("null"), so scheme, host and port are kept.
    if (parsed.protocol === "tcp:" && parsed.port === "") issues.push({ ...source, message: `${url}: a tcp:// URL needs a port` });
    config.services.set(name, { name, url: parsed.protocol === "tcp:" ? `tcp://${parsed.host}` : parsed.origin, source });
  }
  translateIstio(docs, config, opts, notice);
  // Each document's issues top to bottom, like routes.yaml's.
  for (const d of docs) issues.push(...d.ctx.issues.toSorted((a, b) => a.line - b.line));
  checkPorts(config.listeners, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

async function expand(paths: string[], issues: ConfigIssue[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      issues.push({ file: p, line: 0, path: "", message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      continue;
    }
    if (!isDir) out.push(p);
    else out.push(...(await readdir(p)).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(p, f)));
  }
  return out;
}

function mergeNatives(natives: Config[], files: string[], issues: ConfigIssue[]): Config {
  const merged: Config = { files, listeners: [], credentials: new Map(), services: new Map(), routes: [], settings: { ...DEFAULTS } };
  for (const c of natives) {
    merged.listeners.push(...c.listeners);
    merged.routes.push(...c.routes);
    for (const [kind, from, into] of [
      ["credential", c.credentials, merged.credentials],
      ["service", c.services, merged.services],
    ] as const) {
      for (const [name, value] of from as Map<string, CredentialConfig | ServiceConfig>) {
        const before = (into as Map<string, CredentialConfig | ServiceConfig>).get(name);
        if (before) issues.push({ ...value.source, message: `${kind} "${name}" is already defined at ${before.source.file}:${before.source.line}` });
        else (into as Map<string, CredentialConfig | ServiceConfig>).set(name, value);
      }
    }
    if (natives.length === 1 || c.settings.timeoutMs !== DEFAULTS.timeoutMs || c.settings.serverHeader !== DEFAULTS.serverHeader) merged.settings = c.settings;
  }
  return merged;
}

function translateIstio(docs: IstioDoc[], config: Config, opts: SourceOptions, notice: (m: string) => void): void {
  const secrets = new Map<string, SecretMaterial>();
  for (const d of docs.filter((d) => d.kind === "Secret")) {
    const s = readSecret(d);
    if (s) secrets.set(s.name, s);
  }
  const dirs = (opts.credentialDirs ?? []).map((d) => resolve(d));
  const credential = (name: string, doc: IstioDoc, at: (string | number)[]): string | undefined => {
    if (config.credentials.has(name)) return name;
    const fromSecret = credentialFromSecrets(name, secrets);
    if (fromSecret) {
      config.credentials.set(name, fromSecret);
      return name;
    }
    for (const dir of dirs) {
      const folder = join(dir, name);
      if (!existsSync(join(folder, "tls.crt"))) continue;
      // Istio's <name>-cacert convention, as a folder beside the credential's.
      const caFolder = join(dir, `${name}-cacert`);
      const ca = existsSync(join(folder, "ca.crt")) ? join(folder, "ca.crt") : [join(caFolder, "ca.crt"), join(caFolder, "cacert")].find((f) => existsSync(f));
      const source = doc.ctx.source(at);
      config.credentials.set(name, { name, cert: join(folder, "tls.crt"), key: join(folder, "tls.key"), ...(ca ? { ca } : {}), caOptional: false, source });
      return name;
    }
    const where = dirs.length ? `folder ${dirs.map((d) => join(d, name)).join(" or ")} with tls.crt and tls.key` : "credential folder (give one with --credentials DIR)";
    doc.ctx.report(at, `credentialName "${name}" names no Secret document, no credentials entry and no ${where}`);
    return undefined;
  };

  const portMap = opts.portMap ?? new Map<number, number>();
  const gateways = new Map<string, string[]>();
  for (const d of docs.filter((d) => d.kind === "Gateway")) {
    if (gateways.has(d.name)) {
      d.ctx.report(["metadata", "name"], `a Gateway named "${d.name}" was already loaded`);
      continue;
    }
    const g = translateGateway(d, { portMap, address: opts.bindAddress ?? "0.0.0.0", credential });
    config.listeners.push(...g.listeners);
    for (const c of g.credentials) config.credentials.set(c.name, c);
    gateways.set(d.name, g.listeners.map((l) => l.name));
  }
  const routes: VirtualHostConfig[] = [];
  const routeDocs: IstioDoc[] = [];
  const l4 = { config, portMap };
  for (const d of docs.filter((d) => d.kind === "VirtualService")) {
    const vh = translateVirtualService(d, {
      gateways,
      notice,
      httpRoute: (raw, at, doc) => istioHttpRoute(raw, at, doc, config, portMap),
      tcpRoutes: (raw, doc) => istioTcpRoutes(raw, doc, l4),
      tlsRoutes: (raw, hosts, doc) => istioTlsRoutes(raw, hosts, doc, l4),
    });
    if (!vh) continue;
    checkHostOverlap(vh, routes, d);
    routes.push(vh);
    routeDocs.push(d);
  }
  // routes.yaml's checks across entries (an SNI name routed twice on a port, an HTTP route to a
  // tcp:// service), with routes[i] being the i-th VirtualService.
  if (routes.length > 0) {
    const reporter = translatedReporter(
      (path) => (path[0] === "routes" && typeof path[1] === "number" ? { doc: routeDocs[path[1]]!, path: ["spec", ...path.slice(2)] } : undefined),
      routeDocs[0]!, // unused: every path is a routes[i] one
      // "already routed by routes[1].tls[0]": say which file and line.
      (message) =>
        message.replace(/routes\[(\d+)\]\.(tcp|tls|http)\[(\d+)\]/g, (whole, i: string, kind: "tcp" | "tls" | "http", j: string) => {
          const s = routes[Number(i)]?.[kind]?.[Number(j)]?.source;
          return s ? `${s.file}:${s.line} (${s.path})` : whole;
        }),
    );
    checkL4Routes(routes, config.services, reporter);
  }
  config.routes.push(...routes);
}

/** Istio merges VirtualServices that share a host on one Gateway; Portico asks for one. */
function checkHostOverlap(vh: VirtualHostConfig, earlier: VirtualHostConfig[], doc: IstioDoc): void {
  // Only HTTP routes are chosen by host; tcp and tls routes by port and SNI (as in routes.yaml).
  if (vh.http.length === 0) return;
  for (const other of earlier) {
    if (other.http.length === 0) continue;
    const shared = vh.hosts.find((h) => other.hosts.includes(h));
    const sameListener = vh.listeners?.some((l) => other.listeners?.includes(l));
    if (shared && sameListener) {
      doc.ctx.report(["spec", "hosts"], `host "${shared}" on the same Gateway is already routed by ${other.source.file}:${other.source.line}; merge the two VirtualServices (Portico does not merge them)`);
    }
  }
}

function checkPorts(listeners: ListenerConfig[], issues: ConfigIssue[]): void {
  const seen = new Map<string, ListenerConfig>();
  for (const l of listeners) {
    for (const key of [`${l.address}:${l.port}`, `*:${l.port}`]) {
      const other = seen.get(key) ?? (l.address === "0.0.0.0" ? [...seen.values()].find((o) => o.port === l.port) : undefined);
      if (other && other !== l) {
        issues.push({ ...l.source, message: `port ${l.port} is already used by listener "${other.name}" (${other.source.file}:${other.source.line})` });
        break;
      }
    }
    seen.set(`${l.address}:${l.port}`, l);
    if (l.address === "0.0.0.0" || l.address === "::") seen.set(`*:${l.port}`, l);
    const names = listeners.filter((o) => o.name === l.name);
    if (names.length > 1 && names[0] === l) issues.push({ ...l.source, message: `listener name "${l.name}" is used ${names.length} times` });
  }
}

