// routes.yaml -> Config. Three passes, each reporting every problem it finds: YAML syntax, the
// shape of each field (schema.ts), then defaults and cross-references between sections. Pure:
// the text is given (reading files is the caller's job, src/cli/config-files.ts).

import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { LineCounter, parseDocument, type Document, isMap, isScalar, type Pair } from "yaml";
import { UNIQUE_KEYS_LATER, addDuplicateKeyErrors } from "../yaml-unique-keys.ts";
import { ConfigError, fileIssue, type Source } from "../../util/errors.ts";
import { DEFAULT_ADDRESS, defaultSettings } from "../defaults.ts";
import { parseDuration } from "../duration.ts";
import { buildHttpRoute } from "../http-route-build.ts";
import { hostsOncePerPortSteps, nameClash, portClash } from "../listener-checks.ts";
import type { FieldPath } from "../yaml-locate.ts";
import type {
  ClientCertForwarding,
  Config,
  AcmeSettings,
  CredentialConfig,
  ListenerConfig,
  ServiceConfig,
  TlsMode,
  TlsServerConfig,
  VirtualHostConfig,
} from "../model.ts";
import { DocumentReporter, yamlIssues } from "../report.ts";
import { serverTls } from "../server-tls.ts";
import { checkSubsets } from "../subset-checks.ts";
import { parseServiceUrl } from "../service-url.ts";
import { serviceTls } from "../upstream-tls.ts";
import { buildEndpointService, buildServicePolicy, checkCredential } from "./pool-service.ts";
import { unknownName } from "../suggest.ts";
import { buildPassthroughServers, buildTcpRoute, buildTlsRoute, checkL4Routes } from "../tcp-route.ts";
import {
  ALIAS_BOMB,
  TOO_DEEP,
  TO_JS,
  aliasBombLine,
  aliasLine,
  toJsSteps,
  tooDeepLine,
} from "../yaml-bounds.ts";
import {
  ACME_DIRECTORIES,
  configSchemaKeeping,
  isConfigSection,
  validateSectionAhead,
  type RawConfig,
  type RawListener,
  type RawVirtualHost,
} from "./schema.ts";
import { limitsConfig } from "../limits.ts";
import { runAtOnce, type Steps } from "../../util/slices.ts";

/** Parses routes.yaml text. Pure: `file` only names the source and anchors relative paths. */
export function parseConfig(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, ...UNIQUE_KEYS_LATER });
  addDuplicateKeyErrors(doc);
  const config = configFromDocument(doc, lineCounter, file);
  // Alone, routes.yaml must define every subset its routes name (with Istio documents, the
  // composition checks once DestinationRules are read: sources/compose.ts).
  const errors = checkSubsets(config).filter((issue) => issue.severity === "error");
  if (errors.length > 0) throw new ConfigError(errors);
  return config;
}

/**
 * The validated output of each top-level entry (a section) by its node: a reload keeps the nodes
 * of unchanged entries (YamlReuse, yaml-documents.ts), and their sections are neither converted
 * nor validated again (with 10,000 hosts, tens of milliseconds each, in one call). Only sections
 * without issues are kept; the schema does not relate one section to another.
 */
const validated = new WeakMap<Pair, unknown>();

/** The top-level entries by name; empty when a key is not a plain name (then nothing is kept). */
function topLevelPairs(doc: Document): Map<string, Pair> {
  const out = new Map<string, Pair>();
  if (!isMap(doc.contents)) return out;
  for (const pair of doc.contents.items) {
    if (!isScalar(pair.key) || typeof pair.key.value !== "string" || out.has(pair.key.value))
      return new Map();
    out.set(pair.key.value, pair);
  }
  return out;
}

/**
 * The data of a routes.yaml document (no `kind`), as toJS gives it but entry by entry, pausing
 * between them; an entry whose section was validated before (`validated`) is left null, as its
 * output is known. Undefined when the document is not such a mapping of plain names: then
 * toJS, whole.
 */
export function* nativeData(doc: Document): Steps<Record<string, unknown> | undefined> {
  const pairs = topLevelPairs(doc);
  if (pairs.size === 0 || pairs.has("kind") || pairs.has("__proto__") || pairs.has("<<")) return undefined;
  const data: Record<string, unknown> = {};
  for (const [key, pair] of pairs) {
    data[key] = validated.has(pair) ? null : yield* toJsSteps(pair.value, doc);
    yield;
  }
  return data;
}

/** The native config in one parsed YAML document (one of several in a file, see sources/compose.ts). */
export function configFromDocument(doc: Document, lineCounter: LineCounter, file: string): Config {
  return runAtOnce(configSteps(doc, lineCounter, file));
}

/**
 * configFromDocument, pausing (`yield`) between sections and entries (util/slices.ts).
 * `checked`: the document's data, when the caller has already found no YAML error, checked its
 * bounds and turned it into data (sources/compose.ts does, to read `kind`): done once, not twice.
 */
export function* configSteps(
  doc: Document,
  lineCounter: LineCounter,
  file: string,
  checked?: { raw: unknown },
): Steps<Config> {
  const whole = (line: number, message: string) => fileIssue(file, line, message);
  let raw: unknown = checked?.raw;
  if (checked === undefined) {
    if (doc.errors.length > 0) {
      throw new ConfigError(yamlIssues(doc.errors, whole, (pos) => lineCounter.linePos(pos).line));
    }
    const deep = tooDeepLine(doc, lineCounter);
    if (deep > 0) throw new ConfigError([whole(deep, TOO_DEEP)]);
    const bomb = aliasBombLine(doc, lineCounter);
    if (bomb > 0) throw new ConfigError([whole(bomb, ALIAS_BOMB)]);
    try {
      raw = doc.toJS(TO_JS);
    } catch (error) {
      // toJS throws on an alias whose anchor is missing (the parser only warns), and on aliases
      // that expand too far ("billion laughs": the yaml package's maxAliasCount, 100).
      const message = `invalid YAML: ${(error as Error).message}`;
      throw new ConfigError([whole(aliasLine(doc, lineCounter), message)]);
    }
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([whole(0, "the file is empty; expected listeners, services, routes")]);
  }

  const ctx = new DocumentReporter(file, doc, lineCounter);
  yield;
  const sections = topLevelPairs(doc);
  const keep = new Map<string, unknown>();
  for (const [key, pair] of sections) if (validated.has(pair)) keep.set(key, validated.get(pair));
  // Large sections entry by entry first: safeParse is one synchronous call.
  if (typeof raw === "object" && !Array.isArray(raw))
    for (const [key] of sections)
      if (!keep.has(key)) yield* validateSectionAhead(key, (raw as Record<string, unknown>)[key]);
  const result = v.safeParse(configSchemaKeeping(keep), raw);
  yield;
  for (const issue of result.issues ?? []) {
    const path = (issue.path ?? []).map((item) => item.key as string | number);
    ctx.report(path, issue.message);
  }
  if (result.issues?.some((issue) => !issue.path)) throw ctx.error();

  // A section with no schema issue is fully valid even when another section is not, so the
  // cross-reference checks can still run on it and report everything in one go.
  const bad = new Set(result.issues?.map((issue) => issue.path?.[0]?.key));
  for (const [key, pair] of sections)
    if (!bad.has(key) && isConfigSection(key))
      validated.set(pair, (result.output as Record<string, unknown>)[key]);
  const section = <K extends keyof RawConfig>(key: K): RawConfig[K] | undefined =>
    bad.has(key) ? undefined : (result.output as RawConfig)[key];
  const baseDir = dirname(resolve(file));

  const rawSettings = section("settings");
  const defaults = defaultSettings();
  const settings = {
    timeoutMs: parseDuration(rawSettings?.timeout ?? "") ?? defaults.timeoutMs,
    serverHeader: rawSettings?.serverHeader ?? defaults.serverHeader,
    pathNormalization: rawSettings?.pathNormalization ?? defaults.pathNormalization,
    requestTarget: rawSettings?.requestTarget ?? defaults.requestTarget,
    ...(rawSettings?.admin === undefined ? {} : { admin: rawSettings.admin }),
    ...(rawSettings?.accessLog === undefined
      ? {}
      : {
          accessLog:
            typeof rawSettings.accessLog === "string"
              ? { path: rawSettings.accessLog }
              : rawSettings.accessLog,
        }),
    ...(rawSettings?.watch === undefined ? {} : { watch: rawSettings.watch }),
    ...(rawSettings?.numTrustedProxies === undefined
      ? {}
      : { numTrustedProxies: rawSettings.numTrustedProxies }),
    ...(rawSettings?.preserveExternalRequestId === undefined
      ? {}
      : { preserveExternalRequestId: rawSettings.preserveExternalRequestId }),
    ...(rawSettings?.limits === undefined ? {} : { limits: limitsConfig(rawSettings.limits) }),
  };
  const credentials = bad.has("credentials")
    ? undefined
    : yield* buildCredentials(section("credentials") ?? {}, baseDir, ctx);
  const services = bad.has("services")
    ? undefined
    : yield* buildServices(section("services") ?? {}, baseDir, credentials, ctx);
  const listeners = yield* buildListeners(section("listeners") ?? [], credentials, ctx, baseDir);
  const routes = yield* buildRoutes(section("routes") ?? [], services, settings.timeoutMs, ctx);
  checkL4Routes(
    routes.map((entry, i) => ({ entry, at: ["routes", i], ctx })),
    services,
  );

  if (ctx.failed) throw ctx.error();
  return { files: [file], listeners, credentials: credentials!, services: services!, routes, settings };
}

type RawCredential = NonNullable<RawConfig["credentials"]>[string];

function* buildCredentials(
  raw: Record<string, RawCredential>,
  baseDir: string,
  ctx: DocumentReporter,
): Steps<Map<string, CredentialConfig>> {
  const credentials = new Map<string, CredentialConfig>();
  for (const [name, value] of Object.entries(raw)) {
    yield;
    const source = ctx.source(["credentials", name]);
    if (typeof value === "string") {
      // The layout of a Kubernetes TLS secret, where ca.crt is optional.
      const dir = resolve(baseDir, value);
      const files = {
        cert: resolve(dir, "tls.crt"),
        key: resolve(dir, "tls.key"),
        ca: resolve(dir, "ca.crt"),
      };
      credentials.set(name, { name, ...files, caOptional: true, source });
    } else if ("acme" in value) {
      credentials.set(name, acmeCredential(name, value.acme as RawAcme, baseDir, source));
    } else {
      const ca = value.ca === undefined ? {} : { ca: resolve(baseDir, value.ca) };
      const files = { cert: resolve(baseDir, value.cert), key: resolve(baseDir, value.key), ...ca };
      credentials.set(name, { name, ...files, caOptional: false, source });
    }
  }
  return credentials;
}

type RawAcme = Extract<RawCredential, { acme: unknown }>["acme"];

/** The certificate lives in the data directory (src/acme/storage.ts); `cert`/`key` say so. */
function acmeCredential(name: string, raw: RawAcme, baseDir: string, source: Source): CredentialConfig {
  const acme: AcmeSettings = {
    directory: ACME_DIRECTORIES[raw.directory] ?? raw.directory,
    keyType: raw.keyType ?? "ec",
  };
  if (raw.email !== undefined) acme.email = raw.email;
  if (raw.caBundle !== undefined) acme.caBundle = resolve(baseDir, raw.caBundle);
  if (raw.eab !== undefined) acme.eab = { kid: raw.eab.kid, hmacKey: raw.eab.hmacKey };
  if (raw.challenges !== undefined) acme.challenges = [...new Set(raw.challenges)];
  if (raw.renewBefore !== undefined) acme.renewBeforeMs = parseDuration(raw.renewBefore)!;
  const where = `ACME certificate of credential "${name}"`;
  return { name, cert: where, key: where, caOptional: false, acme, source };
}

function* buildServices(
  raw: RawConfig["services"] & object,
  baseDir: string,
  credentials: Map<string, CredentialConfig> | undefined,
  ctx: DocumentReporter,
): Steps<Map<string, ServiceConfig>> {
  const services = new Map<string, ServiceConfig>();
  for (const [name, value] of Object.entries(raw)) {
    yield;
    const at = ["services", name];
    const source = ctx.source(at);
    const named = typeof value === "string" ? undefined : value.protocol?.toUpperCase();
    // The schema has refused AUTO on a service that does not speak TLS.
    const protocol = named === "HTTP2" || named === "GRPC" ? "http2" : named === "AUTO" ? "auto" : undefined;
    if (typeof value === "string" || value.url !== undefined) {
      const url = parseServiceUrl(typeof value === "string" ? value : value.url!);
      if (!url.ok) continue; // reported by the schema
      const { origin, host, port } = url;
      const service: ServiceConfig = { name, url: origin, host, port, source };
      const speaks = url.protocol ?? protocol;
      if (speaks) service.protocol = speaks;
      if (typeof value !== "string") addPool(service, value, at, false, baseDir, credentials, ctx);
      services.set(name, service);
    } else {
      const pool = buildEndpointService(name, value, at, value.tls !== undefined, ctx);
      const service: ServiceConfig = { name, url: pool.url, host: pool.host, port: pool.port, source };
      if (protocol) service.protocol = protocol;
      addPool(service, value, at, true, baseDir, credentials, ctx);
      service.endpoints = pool.endpoints!;
      service.resolution = pool.resolution!;
      services.set(name, service);
    }
  }
  return services;
}

type RawServiceObject = Exclude<NonNullable<RawConfig["services"]>[string], string>;

/** `tls`, the policy sections and subsets of a service written as a mapping. */
function addPool(
  service: ServiceConfig,
  value: RawServiceObject,
  at: (string | number)[],
  endpoints: boolean,
  baseDir: string,
  credentials: Map<string, CredentialConfig> | undefined,
  ctx: DocumentReporter,
): void {
  if (value.tls) {
    service.tls = serviceTls(value.tls, baseDir);
    if (value.tls.credential !== undefined)
      checkCredential(value.tls.credential, [...at, "tls"], credentials, ctx);
  }
  const { trafficPolicy, subsets } = buildServicePolicy(value, at, baseDir, credentials, ctx);
  if (trafficPolicy) service.trafficPolicy = trafficPolicy;
  if (subsets && endpoints) service.subsets = subsets;
}

function* buildListeners(
  raw: RawListener[],
  credentials: Map<string, CredentialConfig> | undefined,
  ctx: DocumentReporter,
  baseDir: string,
): Steps<ListenerConfig[]> {
  const built: ListenerConfig[] = [];
  for (const [i, listener] of raw.entries()) {
    const at = ["listeners", i] as const;
    const name = listener.name ?? `${listener.protocol.toLowerCase()}-${listener.port}`;
    const address = listener.address ?? DEFAULT_ADDRESS;
    const sameName = nameClash(name, built, listener.name === undefined);
    if (sameName) ctx.report(listener.name === undefined ? at : [...at, "name"], sameName);
    const clash = portClash({ address, port: listener.port }, built);
    if (clash) ctx.report([...at, "port"], clash);
    const trust = {
      ...(listener.numTrustedProxies === undefined ? {} : { numTrustedProxies: listener.numTrustedProxies }),
      ...(listener.preserveExternalRequestId === undefined
        ? {}
        : { preserveExternalRequestId: listener.preserveExternalRequestId }),
    };
    const common = {
      name,
      address,
      port: listener.port,
      ...(listener.limits === undefined ? {} : { limits: limitsConfig(listener.limits) }),
      source: ctx.source(at),
    };
    // Unset: Istio's gateway defaults (provisioning applies them): replace any incoming XFCC
    // with Hash, Subject, URI and DNS.
    const set =
      listener.forwardClientCertDetails ?? listener.setCurrentClientCertDetails ?? listener.clientCertHeaders;
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
      built.push({
        protocol: "HTTP",
        ...common,
        hosts,
        httpsRedirect: listener.httpsRedirect ?? false,
        ...(clientCerts ? { clientCerts } : {}),
        ...trust,
      });
    } else if (listener.protocol === "TCP") {
      built.push({
        protocol: "TCP",
        ...common,
        hosts: (listener.hosts ?? ["*"]).map((host) => host.toLowerCase()),
      });
    } else if (listener.protocol === "TLS") {
      const servers = (listener.servers ?? []).map((server, j) => ({
        hosts: server.hosts,
        at: [...at, "servers", j],
      }));
      built.push({
        protocol: "TLS",
        ...common,
        servers: buildPassthroughServers(servers, listener.port, ctx),
      });
    } else {
      const servers = yield* buildServers(listener, i, credentials, ctx, baseDir);
      built.push({
        protocol: "HTTPS",
        ...common,
        servers,
        ...(clientCerts ? { clientCerts } : {}),
        ...trust,
      });
    }
  }
  return built;
}

function* buildServers(
  listener: RawListener,
  index: number,
  credentials: Map<string, CredentialConfig> | undefined,
  ctx: DocumentReporter,
  baseDir: string,
): Steps<TlsServerConfig[]> {
  const servers = listener.servers ?? [];
  const placed: { hosts: string[]; at: FieldPath }[] = [];
  for (const [j, server] of servers.entries()) {
    placed.push({ hosts: server.hosts, at: ["listeners", index, "servers", j] });
    if ((j & 255) === 255) yield;
  }
  const allHosts = yield* hostsOncePerPortSteps(placed, listener.port, ctx, "host", "served");
  const built: TlsServerConfig[] = [];
  for (const [j, server] of servers.entries()) {
    yield;
    const at = ["listeners", index, "servers", j] as const;
    const hosts = allHosts[j]!;
    // PASSTHROUGH on an HTTPS listener was reported by the schema (server-tls.ts).
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
      const message =
        `mode ${mode} needs a CA to verify client certificates: add \`ca\` to credential ` +
        `"${credentialName}"`;
      ctx.report([...at, "tls", "mode"], message);
    }
    built.push({ hosts, mode, credential: credentialName, ...tls.settings, source: ctx.source(at) });
  }
  return built;
}

function* buildRoutes(
  raw: RawVirtualHost[],
  services: Map<string, ServiceConfig> | undefined,
  defaultTimeoutMs: number,
  ctx: DocumentReporter,
): Steps<VirtualHostConfig[]> {
  const routedBy = new Map<string, number>();
  const out: VirtualHostConfig[] = [];
  for (const [i, entry] of raw.entries()) {
    yield;
    const hosts = entry.hosts.map((host, k) => {
      const lower = host.toLowerCase();
      // Only HTTP routes are chosen by host; tcp and tls routes by port and SNI (tcp-route.ts).
      const previous = entry.http ? routedBy.get(lower) : undefined;
      if (previous !== undefined)
        ctx.report(["routes", i, "hosts", k], `host "${lower}" already has routes at routes[${previous}]`);
      else if (entry.http) routedBy.set(lower, i);
      return lower;
    });
    const lookup = { services };
    const at = ["routes", i] as const;
    const http = (entry.http ?? []).map((route, j) =>
      buildHttpRoute(route, [...at, "http", j], lookup, defaultTimeoutMs, ctx),
    );
    const built: VirtualHostConfig = { hosts, http, source: ctx.source(at) };
    if (entry.tcp)
      built.tcp = entry.tcp.map((route, j) => buildTcpRoute(route, [...at, "tcp", j], lookup, ctx));
    const owner = { names: hosts, owner: "this entry's" };
    if (entry.tls)
      built.tls = entry.tls.map((route, j) => buildTlsRoute(route, [...at, "tls", j], owner, lookup, ctx));
    out.push(built);
  }
  return out;
}
