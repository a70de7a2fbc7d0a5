// Every way in to one Config: the YAML texts of the `-c` files (the native routes.yaml and/or
// Istio Gateway, VirtualService and Kubernetes Secret documents, several per file, `---`), plus
// what the command line adds (--service, --port, --bind, --credentials). Pure: the caller reads
// the files and looks into credential folders (src/cli/config-files.ts).

import { join } from "node:path";
import { type ParsedText, parseYaml } from "../yaml-documents.ts";
import { ConfigError, fileIssue, type ConfigIssue } from "../../util/errors.ts";
import { DEFAULT_ADDRESS, defaultSettings } from "../defaults.ts";
import { translateGateway } from "../istio/gateway.ts";
import { meshSettings } from "../istio/mesh-config.ts";
import { telemetryAccessLog, withTelemetry } from "../istio/telemetry.ts";
import type { IstioDoc } from "../istio/document.ts";
import { credentialFromSecrets, readSecret, type SecretMaterial } from "../istio/secret.ts";
import { translateVirtualService } from "../istio/virtual-service.ts";
import { applyDestinationRule } from "../istio/destination-rule.ts";
import {
  alreadyDefined,
  readWorkloadEntry,
  translateServiceEntry,
  warnPlainToTlsPort,
  warnUnselected,
  type WorkloadEntry,
} from "../istio/service-entry.ts";
import { checkSubsets } from "../subset-checks.ts";
import { nameClash, portClash } from "../listener-checks.ts";
import type {
  AccessLogSettings,
  Config,
  CredentialConfig,
  ListenerConfig,
  ServiceConfig,
  VirtualHostConfig,
} from "../model.ts";
import { DocumentReporter, yamlIssues } from "../report.ts";
import { configSteps, nativeData } from "../routes-yaml/parse.ts";
import { parseServiceUrl } from "../service-url.ts";
import { checkL4Routes } from "../tcp-route.ts";
import type { FieldPath } from "../yaml-locate.ts";
import { ALIAS_BOMB, TOO_DEEP, TO_JS, aliasBombLine, tooDeepSteps } from "../yaml-bounds.ts";
import { runAtOnce, runSliced, type Steps } from "../../util/slices.ts";

/** The files of one credential folder (`tls.crt`, `tls.key`, and a CA if one was found). */
export interface CredentialFiles {
  cert: string;
  key: string;
  ca?: string;
}

export interface SourceOptions {
  /** `--service name=url`: where Istio destination hosts live. */
  services?: Map<string, string>;
  /** `--port 443=8443`: ports in Gateway documents → ports bound. */
  portMap?: Map<number, number>;
  /** `--bind`: address for listeners made from Gateways (default 0.0.0.0). */
  bindAddress?: string;
  /**
   * `--credentials DIR`: the folders searched for `<credentialName>/{tls.crt,tls.key[,ca.crt]}`,
   * and the caller's look into them (the disk is not config's business).
   */
  credentialFolders?: { dirs: string[]; find: (name: string) => CredentialFiles | undefined };
  /** Things that are ignored on purpose (other kinds, unbound VirtualServices). */
  warn?: (issue: ConfigIssue) => void;
}

/** One `-c` file as read by the caller. */
export interface SourceText {
  file: string;
  text: string;
  /** The text already parsed (parseYamlSliced, on a reload); otherwise parsed here. */
  parsed?: ParsedText;
}

const KINDS = ["Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "WorkloadEntry", "Secret"];
const KINDS_IGNORED_NOTE = `only ${KINDS.slice(0, -1).join(", ")} and Secret are read`;
/** Read for the access-log switch only (istio/mesh-config.ts, istio/telemetry.ts). */
const MESH_KINDS = ["IstioOperator", "ConfigMap", "Telemetry"];

/**
 * One Config from every file's text. `files`: every file given, in order (also those that could
 * not be read); `earlier`: problems the caller already found (unreadable files), reported first.
 */
export function composeConfig(
  files: string[],
  texts: SourceText[],
  opts: SourceOptions = {},
  earlier: ConfigIssue[] = [],
): Config {
  return runAtOnce(composeSteps(files, texts, opts, earlier));
}

/**
 * composeConfig with the event loop let through every few milliseconds (util/slices.ts): a
 * reload composes under traffic, and 10,000 hosts took hundreds of milliseconds in one go.
 */
export function composeConfigSliced(
  files: string[],
  texts: SourceText[],
  opts: SourceOptions = {},
  earlier: ConfigIssue[] = [],
): Promise<Config> {
  return runSliced(composeSteps(files, texts, opts, earlier));
}

function* composeSteps(
  files: string[],
  texts: SourceText[],
  opts: SourceOptions,
  earlier: ConfigIssue[],
): Steps<Config> {
  const warn = opts.warn ?? (() => {});
  const issues: ConfigIssue[] = [...earlier];
  const natives: Config[] = [];
  const docs: IstioDoc[] = [];
  const reporters: DocumentReporter[] = [];

  for (const { file, text, parsed } of texts) {
    const { docs: all, lineCounter, aliases } = parsed ?? parseYaml(text);
    for (const doc of all) {
      yield;
      if (doc.errors.length > 0) {
        const at = (line: number, message: string) => fileIssue(file, line, message);
        issues.push(...yamlIssues(doc.errors, at, (pos) => lineCounter.linePos(pos).line));
        continue;
      }
      const deep = yield* tooDeepSteps(doc, lineCounter);
      yield;
      // Without a single alias nothing can expand (the walk is tens of milliseconds at 10,000 hosts).
      const bomb = deep > 0 || aliases === false ? 0 : aliasBombLine(doc, lineCounter);
      if (deep > 0 || bomb > 0) {
        issues.push(deep > 0 ? fileIssue(file, deep, TOO_DEEP) : fileIssue(file, bomb, ALIAS_BOMB));
        continue;
      }
      yield;
      // Without aliases, a routes.yaml document is converted entry by entry, skipping the
      // entries a load before validated (routes-yaml/parse.ts).
      let raw: unknown = aliases === false ? yield* nativeData(doc) : undefined;
      let converted = true;
      if (raw === undefined)
        try {
          raw = doc.toJS(TO_JS);
        } catch {
          raw = {}; // an alias without its anchor: routes.yaml's parser reports it with its line
          converted = false;
        }
      if (raw === null || raw === undefined) continue;
      const mappingKind = typeof raw === "object" && !Array.isArray(raw);
      const kind = mappingKind ? (raw as { kind?: unknown }).kind : undefined;
      if (kind === undefined) {
        try {
          // Checked and converted above: not again (unless toJS failed, to report it).
          natives.push(yield* configSteps(doc, lineCounter, file, converted ? { raw } : undefined));
        } catch (err) {
          if (err instanceof ConfigError) issues.push(...err.issues);
          else throw err;
        }
        continue;
      }
      const ctx = new DocumentReporter(file, doc, lineCounter);
      reporters.push(ctx);
      const body = raw as Record<string, unknown>;
      const name = (body.metadata as { name?: unknown } | undefined)?.name;
      if (!KINDS.includes(String(kind)) && !MESH_KINDS.includes(String(kind))) {
        const shown = typeof name === "string" ? name : "?";
        ctx.report([], `${String(kind)} "${shown}" ignored (${KINDS_IGNORED_NOTE})`, "warning");
        continue;
      }
      if (typeof name !== "string" || name === "") {
        ctx.report(["metadata", "name"], `a ${String(kind)} needs metadata.name`);
        continue;
      }
      docs.push({ kind: String(kind), apiVersion: String(body.apiVersion ?? ""), name, raw: body, ctx });
    }
  }

  const config = yield* mergeNatives(natives, files, issues);
  for (const [name, url] of opts.services ?? []) {
    const source = { file: "--service", line: 0, path: name };
    const parsed = parseServiceUrl(url);
    if (!parsed.ok) issues.push({ ...source, message: `${url}: ${parsed.problem}`, severity: "error" });
    else {
      const { origin, host, port, protocol } = parsed;
      config.services.set(name, { name, url: origin, host, port, ...(protocol ? { protocol } : {}), source });
    }
  }
  translateIstio(docs, config, opts);
  for (const r of reporters) {
    for (const w of r.list("warning")) warn(w);
    // Each document's issues top to bottom, like routes.yaml's.
    issues.push(...r.list("error"));
  }
  for (const issue of checkSubsets(config)) {
    if (issue.severity === "warning") warn(issue);
    else issues.push(issue);
  }
  checkListeners(config.listeners, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** The sources' configs in one; pauses between entries (10,000 credentials on a reload). */
function* mergeNatives(natives: Config[], files: string[], issues: ConfigIssue[]): Steps<Config> {
  const defaults = defaultSettings();
  const merged: Config = {
    files,
    listeners: [],
    credentials: new Map(),
    services: new Map(),
    routes: [],
    settings: defaults,
  };
  for (const c of natives) {
    merged.listeners.push(...c.listeners);
    merged.routes.push(...c.routes);
    for (const [kind, from, into] of [
      ["credential", c.credentials, merged.credentials],
      ["service", c.services, merged.services],
    ] as const) {
      for (const [name, value] of from as Map<string, CredentialConfig | ServiceConfig>) {
        const before = (into as Map<string, CredentialConfig | ServiceConfig>).get(name);
        if (before) {
          const message =
            `${kind} "${name}" is already defined at ` + `${before.source.file}:${before.source.line}`;
          issues.push({ ...value.source, message, severity: "error" });
        } else (into as Map<string, CredentialConfig | ServiceConfig>).set(name, value);
        yield;
      }
    }
    const changed =
      c.settings.timeoutMs !== defaults.timeoutMs ||
      c.settings.serverHeader !== defaults.serverHeader ||
      c.settings.pathNormalization !== defaults.pathNormalization ||
      c.settings.requestTarget !== defaults.requestTarget ||
      c.settings.accessLog !== undefined ||
      c.settings.watch !== undefined ||
      c.settings.numTrustedProxies !== undefined ||
      c.settings.preserveExternalRequestId !== undefined ||
      c.settings.limits !== undefined;
    if (natives.length === 1 || changed) merged.settings = c.settings;
  }
  return merged;
}

function translateIstio(docs: IstioDoc[], config: Config, opts: SourceOptions): void {
  applyMeshSettings(docs, config);
  const secrets = new Map<string, SecretMaterial>();
  for (const d of docs.filter((d) => d.kind === "Secret")) {
    const s = readSecret(d);
    if (s) secrets.set(s.name, s);
  }
  const folders = opts.credentialFolders;
  const credential = (name: string, doc: IstioDoc, at: FieldPath): string | undefined => {
    if (config.credentials.has(name)) return name;
    const fromSecret = credentialFromSecrets(name, secrets);
    if (fromSecret) {
      config.credentials.set(name, fromSecret);
      return name;
    }
    const files = folders?.find(name);
    if (files) {
      config.credentials.set(name, { name, ...files, caOptional: false, source: doc.ctx.source(at) });
      return name;
    }
    const dirs = folders?.dirs ?? [];
    const where = dirs.length
      ? `folder ${dirs.map((d) => join(d, name)).join(" or ")} with tls.crt and tls.key`
      : "credential folder (give one with --credentials DIR)";
    doc.ctx.report(
      at,
      `credentialName "${name}" names no Secret document, no credentials entry and no ${where}`,
    );
    return undefined;
  };

  // Services first (ServiceEntry, with the WorkloadEntries it selects), then the rules that
  // attach to them, then the routes that name both.
  const workloads = docs.filter((d) => d.kind === "WorkloadEntry").flatMap((d) => readWorkloadEntry(d) ?? []);
  const serviceEntrySans = new Map<string, string[]>();
  const tlsPorts: { doc: IstioDoc; service: ServiceConfig }[] = [];
  const selected = new Set<WorkloadEntry>();
  for (const d of docs.filter((d) => d.kind === "ServiceEntry")) {
    const made = translateServiceEntry(d, workloads);
    for (const w of made?.selected ?? []) selected.add(w);
    made?.services.forEach((s, h) => {
      const before = config.services.get(s.name);
      if (before) return d.ctx.report(["spec", "hosts", h], alreadyDefined(before));
      config.services.set(s.name, s);
      if (made.subjectAltNames) serviceEntrySans.set(s.name, made.subjectAltNames);
      if (made.tlsPort) tlsPorts.push({ doc: d, service: s });
    });
  }
  for (const w of workloads) if (!selected.has(w)) warnUnselected(w);
  const attached = new Map<string, IstioDoc>();
  for (const d of docs.filter((d) => d.kind === "DestinationRule"))
    applyDestinationRule(d, { config, credential, attached, serviceEntrySans });

  const portMap = opts.portMap ?? new Map<number, number>();
  const gateways = new Map<string, string[]>();
  for (const d of docs.filter((d) => d.kind === "Gateway")) {
    if (gateways.has(d.name)) {
      d.ctx.report(["metadata", "name"], `a Gateway named "${d.name}" was already loaded`);
      continue;
    }
    const g = translateGateway(d, { portMap, address: opts.bindAddress ?? DEFAULT_ADDRESS, credential });
    config.listeners.push(...g.listeners);
    for (const c of g.credentials) config.credentials.set(c.name, c);
    gateways.set(
      d.name,
      g.listeners.map((l) => l.name),
    );
  }
  const placed: { entry: VirtualHostConfig; at: FieldPath; ctx: DocumentReporter }[] = [];
  for (const d of docs.filter((d) => d.kind === "VirtualService")) {
    const entry = translateVirtualService(d, { gateways, config, portMap });
    if (!entry) continue;
    checkHostOverlap(
      entry,
      placed.map((p) => p.entry),
      d,
    );
    placed.push({ entry, at: ["spec"], ctx: d.ctx });
  }
  // routes.yaml's checks across entries (an SNI name routed twice on a port, an HTTP route to a
  // tcp:// service), each VirtualService being one entry.
  checkL4Routes(placed, config.services);
  config.routes.push(...placed.map((p) => p.entry));
  const http = config.routes.flatMap((e) => e.http.flatMap((r) => [...r.destinations, ...(r.mirrors ?? [])]));
  const usedByHttp = new Set(http.map((d) => d.service));
  for (const { doc, service } of tlsPorts) if (usedByHttp.has(service.name)) warnPlainToTlsPort(doc, service);
}

/**
 * The access log from MeshConfig (IstioOperator, the istio ConfigMap) and Telemetry documents,
 * under what routes.yaml's settings.accessLog sets itself (which wins, field by field); and
 * MeshConfig's defaultConfig.gatewayTopology.numTrustedProxies under settings.numTrustedProxies.
 */
function applyMeshSettings(docs: IstioDoc[], config: Config): void {
  let mesh: AccessLogSettings | undefined;
  let telemetry: AccessLogSettings | undefined;
  let trusted: number | undefined;
  for (const d of docs) {
    if (d.kind === "IstioOperator" || d.kind === "ConfigMap") {
      const m = meshSettings(d);
      if (m?.accessLog) mesh = { ...mesh, ...m.accessLog };
      if (m?.numTrustedProxies !== undefined) trusted = m.numTrustedProxies;
    } else if (d.kind === "Telemetry") telemetry = telemetryAccessLog(d) ?? telemetry;
  }
  const istio = withTelemetry(mesh, telemetry);
  if (istio) config.settings.accessLog = { ...istio, ...config.settings.accessLog };
  // routes.yaml's settings.numTrustedProxies beats the mesh default, as its accessLog does.
  if (trusted !== undefined) config.settings.numTrustedProxies ??= trusted;
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
      const by = `${other.source.file}:${other.source.line}`;
      const message =
        `host "${shared}" on the same Gateway is already routed by ${by}; merge the two ` +
        `VirtualServices (Portico does not merge them)`;
      doc.ctx.report(["spec", "hosts"], message);
    }
  }
}

/** Across every source: one name per listener, one port per address (listener-checks.ts). */
function checkListeners(listeners: ListenerConfig[], issues: ConfigIssue[]): void {
  listeners.forEach((l, i) => {
    for (const message of [nameClash(l.name, listeners.slice(0, i)), portClash(l, listeners.slice(0, i))]) {
      if (message) issues.push({ ...l.source, message, severity: "error" });
    }
  });
}
