// routes.yaml -> Config. Three passes, each reporting every problem it finds: YAML syntax, the
// shape of each field (schema.ts), then defaults and cross-references between sections.

import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { getSystemErrorMap } from "node:util";
import * as v from "valibot";
import { LineCounter, parseDocument, visit, type Document, type YAMLError } from "yaml";
import { ConfigError, type ConfigIssue } from "../errors.ts";
import { parseDuration } from "./duration.ts";
import type {
  ClientCertForwarding,
  Config,
  CredentialConfig,
  DestinationConfig,
  ListenerConfig,
  ServiceConfig,
  Source,
  TlsMode,
  TlsServerConfig,
  VirtualHostConfig,
} from "./model.ts";
import { ConfigSchema, type RawConfig, type RawListener, type RawVirtualHost } from "./schema.ts";
import { unknownName } from "./suggest.ts";
import { buildPassthroughServers, buildTcpRoutes, buildTlsRoutes, checkL4Routes } from "./tcp-route.ts";
import { serverTls } from "./tls-settings.ts";
import { formatPath, locateLine, type FieldPath } from "./yaml-locate.ts";
import { buildHttpRoute } from "./http-route.ts";

/** Envoy's default route timeout. */
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_SERVER_HEADER = "portico";
/** Addresses that bind every interface, so they clash with any other address on the port. */
const ANY_ADDRESS = new Set(["0.0.0.0", "::"]);

/** Reads and parses a routes.yaml file; every problem becomes part of one ConfigError. */
export async function loadConfigFile(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const issue: ConfigIssue = { file, line: 0, path: "", message: `cannot read: ${osReason(error)}` };
    throw new ConfigError([issue], { cause: error });
  }
  return parseConfig(text, file);
}

function osReason(error: unknown): string {
  const { code, errno, message } = error as NodeJS.ErrnoException;
  const described = typeof errno === "number" ? getSystemErrorMap().get(errno)?.[1] : undefined;
  return code && described ? `${code} ${described}` : String(message ?? error);
}

/** Parses routes.yaml text. Pure: `file` only names the source and anchors relative paths. */
export function parseConfig(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  return configFromDocument(doc, lineCounter, file);
}

/** The native config in one parsed YAML document (one of several in a file, see sources.ts). */
export function configFromDocument(doc: Document, lineCounter: LineCounter, file: string): Config {
  const whole = (line: number, message: string): ConfigIssue => ({ file, line, path: "", message });

  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((error) => whole(lineCounter.linePos(error.pos[0]).line, yamlMessage(error))));
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (error) {
    // toJS throws on an alias whose anchor is missing; the parser only warns.
    throw new ConfigError([whole(unresolvedAliasLine(doc, lineCounter), `invalid YAML: ${(error as Error).message}`)]);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([whole(0, "the file is empty; expected listeners, services, routes")]);
  }

  const ctx = new Context(file, doc, lineCounter);
  const result = v.safeParse(ConfigSchema, raw);
  for (const issue of result.issues ?? []) {
    const path = (issue.path ?? []).map((item) => item.key as string | number);
    ctx.report(path, issue.message);
  }
  if (result.issues?.some((issue) => !issue.path)) throw ctx.error();

  // A section with no schema issue is fully valid even when another section is not, so the
  // cross-reference checks can still run on it and report everything in one go.
  const bad = new Set(result.issues?.map((issue) => issue.path?.[0]?.key));
  const section = <K extends keyof RawConfig>(key: K): RawConfig[K] | undefined =>
    bad.has(key) ? undefined : (result.output as RawConfig)[key];
  const baseDir = dirname(resolve(file));

  const rawSettings = section("settings");
  const settings = {
    timeoutMs: parseDuration(rawSettings?.timeout ?? "") ?? DEFAULT_TIMEOUT_MS,
    serverHeader: rawSettings?.serverHeader ?? DEFAULT_SERVER_HEADER,
    ...(rawSettings?.admin === undefined ? {} : { admin: rawSettings.admin }),
  };
  const credentials = bad.has("credentials") ? undefined : buildCredentials(section("credentials") ?? {}, baseDir, ctx);
  const services = bad.has("services") ? undefined : buildServices(section("services") ?? {}, baseDir, ctx);
  const listeners = buildListeners(section("listeners") ?? [], credentials, ctx, baseDir);
  const routes = buildRoutes(section("routes") ?? [], services, settings.timeoutMs, ctx);
  checkL4Routes(routes, services, ctx);

  if (ctx.issues.length > 0) throw ctx.error();
  return { files: [file], listeners, credentials: credentials!, services: services!, routes, settings };
}

export function yamlMessage(error: YAMLError): string {
  if (error.code === "MULTIPLE_DOCS") return "invalid YAML: expected one document, found several separated by ---";
  const hint = error.code === "BAD_ALIAS" ? '; quote "*" when it means a wildcard host' : "";
  return `invalid YAML: ${error.message}${hint}`;
}

function unresolvedAliasLine(doc: Document, lineCounter: LineCounter): number {
  let line = 0;
  visit(doc, {
    Alias(_key, alias) {
      if (alias.resolve(doc) || !alias.range) return;
      line = lineCounter.linePos(alias.range[0]).line;
      return visit.BREAK;
    },
  });
  return line;
}

/** Collects issues and locates paths in the YAML source. */
export class Context {
  readonly issues: ConfigIssue[] = [];
  private readonly seen = new Set<string>();

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  source(path: FieldPath): Source {
    return { file: this.file, line: locateLine(this.doc, this.lineCounter, path), path: formatPath(path) };
  }

  report(path: FieldPath, message: string): void {
    const issue = { ...this.source(path), message };
    // One bad value can fail several rules with the same message (e.g. 0.5 for a port).
    const key = `${issue.path}\n${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.issues.push(issue);
  }

  /** Issues in file order, so the report reads top to bottom like the file. */
  error(): ConfigError {
    return new ConfigError(this.issues.toSorted((a, b) => a.line - b.line));
  }
}

type RawCredential = NonNullable<RawConfig["credentials"]>[string];

function buildCredentials(raw: Record<string, RawCredential>, baseDir: string, ctx: Context) {
  const credentials = new Map<string, CredentialConfig>();
  for (const [name, value] of Object.entries(raw)) {
    const source = ctx.source(["credentials", name]);
    if (typeof value === "string") {
      // The layout of a Kubernetes TLS secret, where ca.crt is optional.
      const dir = resolve(baseDir, value);
      const files = { cert: resolve(dir, "tls.crt"), key: resolve(dir, "tls.key"), ca: resolve(dir, "ca.crt") };
      credentials.set(name, { name, ...files, caOptional: true, source });
    } else {
      const ca = value.ca === undefined ? {} : { ca: resolve(baseDir, value.ca) };
      const files = { cert: resolve(baseDir, value.cert), key: resolve(baseDir, value.key), ...ca };
      credentials.set(name, { name, ...files, caOptional: false, source });
    }
  }
  return credentials;
}

function buildServices(raw: RawConfig["services"] & object, baseDir: string, ctx: Context) {
  const services = new Map<string, ServiceConfig>();
  for (const [name, value] of Object.entries(raw)) {
    const url = typeof value === "string" ? value : value.url;
    const tls = typeof value === "string" || !value.tls ? undefined : value.tls;
    // The origin drops a trailing "/" and default port, so upstream code can append paths as is.
    // A tcp:// URL has no origin ("null"): keep scheme, host and port as written.
    const parsed = new URL(url);
    const origin = parsed.protocol === "tcp:" ? `tcp://${parsed.host}` : parsed.origin;
    const service: ServiceConfig = { name, url: origin, source: ctx.source(["services", name]) };
    if (tls) {
      service.tls = {
        ...(tls.ca === undefined ? {} : { ca: resolve(baseDir, tls.ca) }),
        ...(tls.cert === undefined ? {} : { cert: resolve(baseDir, tls.cert), key: resolve(baseDir, tls.key!) }),
        ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }),
      };
    }
    services.set(name, service);
  }
  return services;
}

function buildListeners(
  raw: RawListener[],
  credentials: Map<string, CredentialConfig> | undefined,
  ctx: Context,
  baseDir: string,
): ListenerConfig[] {
  const built: ListenerConfig[] = [];
  raw.forEach((listener, i) => {
    const at = ["listeners", i] as const;
    const name = listener.name ?? `${listener.protocol.toLowerCase()}-${listener.port}`;
    const address = listener.address ?? "0.0.0.0";
    const sameName = built.findIndex((other) => other.name === name);
    if (sameName >= 0 && listener.name !== undefined) {
      ctx.report([...at, "name"], `name "${name}" is already used by listeners[${sameName}]`);
    } else if (sameName >= 0) {
      const message = `name "${name}" (the default for this listener) is already used by listeners[${sameName}]`;
      ctx.report(at, `${message}; give one of them a name`);
    }
    const clash = built.findIndex(
      (other) =>
        other.port === listener.port &&
        (other.address === address || ANY_ADDRESS.has(other.address) || ANY_ADDRESS.has(address)),
    );
    if (clash >= 0) {
      const other = built[clash]!;
      ctx.report(
        [...at, "port"],
        `port ${listener.port} on ${address} is already used by listeners[${clash}] ("${other.name}" on ${other.address})`,
      );
    }
    const common = { name, address, port: listener.port, source: ctx.source(at) };
    // Unset: Istio's gateway defaults (provisioning applies them): replace any incoming XFCC
    // with Hash, Subject, URI and DNS.
    const set = listener.forwardClientCertDetails ?? listener.setCurrentClientCertDetails ?? listener.clientCertHeaders;
    const clientCerts: ClientCertForwarding | undefined =
      set === undefined
        ? undefined
        : {
            mode: listener.forwardClientCertDetails ?? "SANITIZE_SET",
            details: listener.setCurrentClientCertDetails ?? ["Subject", "URI", "DNS"],
            headers: listener.clientCertHeaders ?? false,
          };
    if (listener.protocol === "HTTP") {
      const hosts = (listener.hosts ?? ["*"]).map((host) => host.toLowerCase());
      built.push({ protocol: "HTTP", ...common, hosts, httpsRedirect: listener.httpsRedirect ?? false, ...(clientCerts ? { clientCerts } : {}) });
    } else if (listener.protocol === "TCP") {
      built.push({ protocol: "TCP", ...common, hosts: (listener.hosts ?? ["*"]).map((host) => host.toLowerCase()) });
    } else if (listener.protocol === "TLS") {
      built.push({ protocol: "TLS", ...common, servers: buildPassthroughServers(listener.servers ?? [], i, listener.port, ctx) });
    } else {
      const servers = buildServers(listener, i, credentials, ctx, baseDir);
      built.push({ protocol: "HTTPS", ...common, servers, ...(clientCerts ? { clientCerts } : {}) });
    }
  });
  return built;
}

function buildServers(
  listener: RawListener,
  index: number,
  credentials: Map<string, CredentialConfig> | undefined,
  ctx: Context,
  baseDir: string,
): TlsServerConfig[] {
  const servedBy = new Map<string, string>();
  return (listener.servers ?? []).map((server, j) => {
    const at = ["listeners", index, "servers", j] as const;
    const hosts = server.hosts.map((host, k) => {
      const lower = host.toLowerCase();
      const previous = servedBy.get(lower);
      if (previous) {
        ctx.report([...at, "hosts", k], `host "${lower}" is already served on port ${listener.port} by ${previous}`);
      } else {
        servedBy.set(lower, formatPath(at));
      }
      return lower;
    });
    // PASSTHROUGH on an HTTPS listener was reported by the schema (tls-settings.ts).
    const mode = (server.tls.mode ?? "SIMPLE") as TlsMode;
    const tls = serverTls(server.tls, at, baseDir, credentials, (path) => ctx.source(path));
    const credentialName = tls.credential;
    const credential = credentials?.get(credentialName);
    if (credentials && !credential && !tls.fileForm) {
      const message = unknownName("credential", "credentials", credentialName, [...credentials.keys()]);
      ctx.report([...at, "tls", "credential"], message);
    }
    // The folder form may hold a ca.crt; only provisioning can look. (The file form's
    // caCertificates was checked by the schema.)
    if (mode !== "SIMPLE" && credential && !credential.caOptional && !credential.ca && !tls.fileForm) {
      const message = `mode ${mode} needs a CA to verify client certificates: add \`ca\` to credential "${credentialName}"`;
      ctx.report([...at, "tls", "mode"], message);
    }
    return { hosts, mode, credential: credentialName, ...tls.settings, source: ctx.source(at) };
  });
}

function buildRoutes(
  raw: RawVirtualHost[],
  services: Map<string, ServiceConfig> | undefined,
  defaultTimeoutMs: number,
  ctx: Context,
): VirtualHostConfig[] {
  const routedBy = new Map<string, number>();
  return raw.map((entry, i) => {
    const hosts = entry.hosts.map((host, k) => {
      const lower = host.toLowerCase();
      // Only HTTP routes are chosen by host; tcp and tls routes by port and SNI (tcp-route.ts).
      const previous = entry.http ? routedBy.get(lower) : undefined;
      if (previous !== undefined) ctx.report(["routes", i, "hosts", k], `host "${lower}" already has routes at routes[${previous}]`);
      else if (entry.http) routedBy.set(lower, i);
      return lower;
    });
    const http = (entry.http ?? []).map((route, j) => buildHttpRoute(route, ["routes", i, "http", j], services, defaultTimeoutMs, ctx));
    const built: VirtualHostConfig = { hosts, http, source: ctx.source(["routes", i]) };
    if (entry.tcp) built.tcp = buildTcpRoutes(entry.tcp, i, services, ctx, buildDestinations);
    if (entry.tls) built.tls = buildTlsRoutes(entry.tls, i, hosts, services, ctx, buildDestinations);
    return built;
  });
}

// HTTP routes are built by http-route.ts's buildHttpRoute (shared with the Istio loader).

function buildDestinations(
  raw: { destination: string; weight?: number }[],
  at: FieldPath,
  services: Map<string, ServiceConfig> | undefined,
  ctx: Context,
): DestinationConfig[] {
  // Istio's rule: no weights means an equal split; once any is given, the others are 0.
  const weighted = raw.some((destination) => destination.weight !== undefined);
  const built = raw.map((destination, k) => {
    const service = destination.destination;
    if (services && !services.has(service)) {
      ctx.report([...at, k, "destination"], unknownName("service", "services", service, [...services.keys()]));
    }
    const weight = weighted ? (destination.weight ?? 0) : 1;
    return { service, weight, source: ctx.source([...at, k]) };
  });
  if (built.length > 0 && built.every((destination) => destination.weight === 0)) {
    ctx.report(at, "every destination has weight 0; at least one weight must be greater than 0");
  }
  return built;
}
