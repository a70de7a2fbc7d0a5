// Config (plain data) → Plan (runtime objects). Does the file I/O and x509 parsing, compiles
// matchers and indexes hosts, and reports every problem at once as a ConfigError.

import { resolveLimits } from "../config/limits.ts";
import { isIP } from "node:net";
import type {
  Config,
  CredentialConfig,
  ListenerConfig,
  ServiceConfig,
  Source,
  TlsServerConfig,
  UpstreamTlsConfig,
  VirtualHostConfig,
} from "../config/model.ts";
import { originatesTls } from "../config/upstream-tls.ts";
import { DEFAULT_WARN_DAYS } from "../config/defaults.ts";
import { ConfigError, cannotRead, type ConfigIssue } from "../util/errors.ts";
import { readText } from "../util/file-reads.ts";
import type { UpstreamTls } from "../upstream/types.ts";
import { HostTable } from "../util/host-table.ts";
import { mapBounded } from "../util/map-bounded.ts";
import { Slices } from "../util/slices.ts";
import { compileCertForwarding } from "./cert-forwarding.ts";
import {
  type CredentialCache,
  type CredentialResult,
  certificateCovers,
  credentialNow,
  type PemTexts,
  thoroughly,
} from "./credentials.ts";
import { provisionAcmeCredentials, type AcmeSource } from "./acme.ts";
import { exposedKeyWarning } from "./key-file-mode.ts";
import { compileRoute } from "./compile-route.ts";
import { issueAt, warningAt } from "./issues.ts";
import { compilePools, isDirect, poolKey } from "./pools.ts";
import { compileStreamListeners } from "./tcp.ts";
import { provisionServerTls, type ServerTlsExtras } from "./tls-settings.ts";
import type {
  AcmeResponder,
  CredentialPlan,
  HttpsListenerPlan,
  HttpListenerBase,
  ListenerPlan,
  Plan,
  PoolPlan,
  TlsServerPlan,
  VirtualHostPlan,
} from "./plan.ts";
import type { RoutePlan } from "./route-plan.ts";
import { daysLeft } from "../util/days.ts";

export interface Provisioned {
  plan: Plan;
  /** Things worth telling the operator that do not stop startup. */
  warnings: ConfigIssue[];
}

export interface ProvisionOptions {
  /** The clock, for tests; certificates are judged valid or expired against it. */
  now?: Date;
  /** Start with certificates that are expired or not yet valid (a warning instead of an error). */
  allowExpired?: boolean;
  /** Warn about certificates that expire within this many days (default DEFAULT_WARN_DAYS). */
  warnDays?: number;
  /** The running ACME lifecycle: its certificates, and the challenge answers for the listeners. */
  acme?: AcmeSource & { responder: AcmeResponder };
  /** Credentials parsed by earlier loads (a reload's), reused when their PEM text is the same. */
  credentials?: CredentialCache;
}

/** Credentials the thorough (asynchronous) reading works on at once: few enough to let requests through. */
const CREDENTIALS_AT_ONCE = 32;

export async function provision(config: Config, opts: ProvisionOptions = {}): Promise<Provisioned> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  // A reload runs this under traffic: the loops over servers and credentials pause every few
  // milliseconds (util/slices.ts).
  const slices = new Slices();

  const credentials = new Map<string, CredentialPlan>();
  const used = await usedCredentials(config, slices);
  // The usual credential is read and judged without an await (credentialNow); only an unusual
  // or faulty one is left to the thorough reading, a few at a time.
  const fromFiles: (CredentialResult | undefined)[] = [];
  const thorough: { at: number; c: CredentialConfig; texts: PemTexts }[] = [];
  // Whether any credential is ACME, found here rather than by a loop of its own (withAcme).
  let anyAcme = false;
  for (const c of config.credentials.values()) {
    anyAcme ||= c.acme !== undefined;
    if (!used.has(c.name) || c.acme !== undefined) continue;
    const now = credentialNow(c, opts.credentials);
    if ("texts" in now) thorough.push({ at: fromFiles.length, c, texts: now.texts });
    fromFiles.push("done" in now ? now.done : undefined);
    const wait = slices.pause();
    if (wait) await wait;
  }
  await mapBounded(thorough, CREDENTIALS_AT_ONCE, async ({ at, c, texts }) => {
    await slices.pause();
    fromFiles[at] = await thoroughly(c, texts, opts.credentials);
  });
  const results = [
    ...(fromFiles as CredentialResult[]),
    ...(await provisionAcmeCredentials(config, used, opts.acme, issues)),
  ];
  opts.credentials?.sweep();
  for (const r of results) {
    if (r.ok) {
      credentials.set(r.plan.name, r.plan);
      warnings.push(...r.warnings);
      judgeCredential(r.plan, config.credentials.get(r.plan.name)!.source, opts, issues, warnings);
    } else issues.push(...r.issues);
    await slices.pause();
  }

  const serviceTls = await provisionServiceTls(config, credentials, issues, warnings);
  const pools = compilePools(config, serviceTls);
  const vhosts = config.routes.map((vh) => compileVirtualHost(vh, config, serviceTls, pools));
  const tlsExtras = await provisionServerTls(config, credentials, issues, warnings, slices);
  const listeners: ListenerPlan[] = [];
  for (const l of config.listeners) {
    if (l.protocol === "TCP" || l.protocol === "TLS") continue; // streamListeners (tcp.ts)
    const plan = await compileListener(l, config, credentials, vhosts, issues, warnings, tlsExtras, slices);
    if (plan) listeners.push(anyAcme ? withAcme(plan, l, config, opts.acme?.responder) : plan);
  }
  const streamListeners = compileStreamListeners(config, pools, issues, warnings);
  if (issues.length > 0) throw new ConfigError(issues);
  const plan: Plan = {
    listeners,
    streamListeners,
    credentials: [...credentials.values()],
    serverHeader: config.settings.serverHeader,
    pools,
  };
  if (config.settings.admin !== undefined) plan.admin = config.settings.admin;
  if (config.settings.accessLog !== undefined) plan.accessLog = config.settings.accessLog;
  return { plan, warnings };
}

/**
 * Challenge answers: http-01 on every plain HTTP listener, tls-alpn-01 on the HTTPS listeners
 * with a server on an ACME credential; not called when no credential is ACME (nothing on the hot
 * path, and no loop over every server of a reload).
 */
function withAcme(
  plan: ListenerPlan,
  l: ListenerConfig,
  config: Config,
  responder: AcmeResponder | undefined,
): ListenerPlan {
  if (responder === undefined) return plan;
  const acme = (name: string) => config.credentials.get(name)?.acme !== undefined;
  if (plan.kind === "http") {
    plan.acmeHttp01 = responder;
  } else if (l.protocol === "HTTPS" && l.servers.some((s) => acme(s.credential)))
    plan.acmeTlsAlpn = responder;
  return plan;
}

async function usedCredentials(config: Config, slices: Slices): Promise<Set<string>> {
  const names = new Set<string>();
  for (const l of config.listeners) {
    if (l.protocol !== "HTTPS") continue;
    for (const s of l.servers) {
      names.add(s.credential);
      await slices.pause();
    }
  }
  for (const s of config.services.values())
    for (const tls of [s.tls, ...(s.subsets ?? []).map((sub) => sub.trafficPolicy?.tls)])
      if (tls?.credential !== undefined) names.add(tls.credential);
  return names;
}

async function compileListener(
  l: ListenerConfig,
  config: Config,
  credentials: Map<string, CredentialPlan>,
  vhosts: VirtualHostPlan[],
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
  tlsExtras: Map<TlsServerConfig, ServerTlsExtras>,
  slices: Slices,
): Promise<ListenerPlan | undefined> {
  if (l.protocol !== "HTTP" && l.protocol !== "HTTPS") return undefined; // TCP and TLS: provision/tcp.ts
  const hosts = new HostTable<true>();
  const table = new HostTable<VirtualHostPlan>();
  let upgrades = false;
  vhosts.forEach((vh, i) => {
    const bound = config.routes[i]!.listeners;
    if (bound !== undefined && !bound.includes(l.name)) return;
    for (const h of vh.hosts) table.add(h, vh);
    upgrades ||= vh.routes.some((r) => r.action.kind === "proxy" && r.action.upgrades);
  });
  const limits = resolveLimits(l.limits, config.settings.limits);
  const common: Omit<HttpListenerBase, "trailers"> = {
    name: l.name,
    address: l.address,
    port: l.port,
    hosts,
    vhosts: table,
    clientCerts: compileCertForwarding(l.clientCerts, []),
    trust: {
      numTrustedProxies: l.numTrustedProxies ?? config.settings.numTrustedProxies ?? 0,
      preserveExternalRequestId:
        l.preserveExternalRequestId ?? config.settings.preserveExternalRequestId ?? false,
    },
    // An httpsRedirect listener answers every request with a 301, upgrades included.
    upgrades: upgrades && !(l.protocol === "HTTP" && l.httpsRedirect),
    pathNormalization: config.settings.pathNormalization,
    exactTarget: config.settings.requestTarget === "exact" || config.settings.pathNormalization === "NONE",
    limits,
    bodyCeiling: bodyCeiling(limits.maxRequestBodyBytes, table),
  };

  if (l.protocol === "HTTP") {
    for (const h of l.hosts) hosts.add(h, true);
    const httpsRedirectPort = l.httpsRedirect ? redirectPort(l.hosts, config) : undefined;
    return { kind: "http", ...common, trailers: reachesHttp2(hosts, table), httpsRedirectPort };
  }

  const servers: TlsServerPlan[] = [];
  const serverByHost = new HostTable<TlsServerPlan>();
  const acmePending: string[] = [];
  // Found in this loop, which pauses, rather than by another over thousands of servers.
  let anyMutual = false;
  for (const s of l.servers) {
    await slices.pause();
    const credential = credentials.get(s.credential);
    // An ACME credential without its certificate yet (provision/acme.ts); any other missing
    // credential had its own issue reported when it failed.
    if (!credential && config.credentials.get(s.credential)?.acme) acmePending.push(...s.hosts);
    if (!credential) continue;
    if (s.mode !== "SIMPLE" && credential.caPem === undefined) {
      const fix = `add ca.crt to ${dirOf(credential.certFile)}, or \`ca:\` to the credential`;
      const problem =
        `mode ${s.mode} needs a CA to verify client certificates, ` +
        `but credential "${s.credential}" has none`;
      issues.push(issueAt(s.source, `${problem} (${fix})`));
      continue;
    }
    // An ACME certificate may cover only some of its hosts (the CA refused the others,
    // src/acme/manager.ts): those wait like a credential without a certificate, refused at the
    // handshake, while the covered ones are served.
    let served = s.hosts;
    if (config.credentials.get(s.credential)?.acme) {
      served = s.hosts.filter((h) => certificateCovers(credential, h));
      acmePending.push(...s.hosts.filter((h) => !served.includes(h)));
      if (served.length === 0) continue;
    }
    const clientCerts = compileCertForwarding(l.clientCerts, credential.leaf.uriNames);
    const plan: TlsServerPlan = {
      index: servers.length,
      hosts: served,
      mode: s.mode,
      credential,
      clientCerts,
      ...tlsExtras.get(s),
    };
    servers.push(plan);
    anyMutual ||= s.mode !== "SIMPLE";
    for (const h of served) {
      hosts.add(h, true);
      serverByHost.add(h, plan);
      if (!h.includes("*") && !certificateCovers(credential, h)) {
        const cert = `certificate of "${credential.name}" (${credential.leaf.subject})`;
        const message = `${cert} does not cover host "${h}"; clients that verify the name will refuse it`;
        warnings.push(warningAt(s.source, message));
      }
    }
  }
  const plan: HttpsListenerPlan = {
    kind: "https",
    ...common,
    trailers: reachesHttp2(hosts, table),
    servers,
    serverByHost,
    anyMutual,
  };
  if (acmePending.length > 0) plan.acmePending = acmePending;
  return plan;
}

/** The largest body a route of the listener admits; undefined when one admits any (limits.ts). */
function bodyCeiling(listener: number | undefined, vhosts: HostTable<VirtualHostPlan>): number | undefined {
  if (listener === undefined) return undefined;
  let ceiling = listener;
  for (const vh of vhosts.values())
    for (const r of vh.routes) {
      if (r.maxRequestBodyBytes === 0) return undefined;
      if (r.maxRequestBodyBytes !== undefined) ceiling = Math.max(ceiling, r.maxRequestBodyBytes);
    }
  return ceiling;
}

/**
 * Some route of a virtual host the listener can reach proxies to an HTTP/2 upstream (or one that
 * may pick h2 by ALPN). A virtual host whose names the listener never accepts does not count, so
 * a gRPC host on one listener leaves the others on their fastest adapter.
 */
function reachesHttp2(hosts: HostTable<true>, vhosts: HostTable<VirtualHostPlan>): boolean {
  const reachable = (vh: VirtualHostPlan) => vh.hosts.some((h) => h.includes("*") || hosts.match(h));
  const http2 = (r: RoutePlan) =>
    r.action.kind === "proxy" && r.action.upstreams.some((u) => u.protocol !== undefined);
  return vhosts.values().some((vh) => reachable(vh) && vh.routes.some(http2));
}

/** The HTTPS port that serves these hosts, so a redirect lands where TLS is actually served. */
function redirectPort(hosts: string[], config: Config): number {
  for (const l of config.listeners) {
    if (l.protocol !== "HTTPS") continue;
    const served = new HostTable<true>();
    for (const s of l.servers) for (const h of s.hosts) served.add(h, true);
    if (hosts.some((h) => h === "*" || served.match(h.replace(/^\*\./, "x.")))) return l.port;
  }
  return 443;
}

/**
 * Reads the PEM files (or the credential) of every service's and subset's upstream TLS, keyed as
 * the pools are (`service`, `service/subset`). A pooled service connects to endpoint addresses,
 * so its SNI and verified name default to the service's host name (Istio: the `sni` or the host).
 */
async function provisionServiceTls(
  config: Config,
  credentials: ReadonlyMap<string, CredentialPlan>,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
): Promise<Map<string, UpstreamTls>> {
  const out = new Map<string, UpstreamTls>();
  const build = async (s: ServiceConfig, key: string, tls: UpstreamTlsConfig | undefined) => {
    const hostName = isDirect(s) || isIP(s.host) !== 0 ? undefined : s.host;
    if (tls !== undefined && !originatesTls(tls)) return;
    if (tls === undefined) {
      if (hostName !== undefined && s.url.startsWith("https:")) out.set(key, { serverName: hostName });
      return;
    }
    const read = async (file: string | undefined, what: string) => {
      if (file === undefined) return undefined;
      try {
        return await readText(file);
      } catch (err) {
        issues.push(issueAt(s.source, cannotRead(file, err, what)));
        return undefined;
      }
    };
    const [ca, cert, key_] = await Promise.all([
      read(tls.ca, "CA bundle"),
      read(tls.cert, "client certificate"),
      read(tls.key, "client key"),
    ]);
    const exposed = key_ === undefined ? undefined : exposedKeyWarning(tls.key!, "client key");
    if (exposed) warnings.push(warningAt(s.source, exposed));
    // A credential's failure was reported when it was read (provisionCredential).
    const c = tls.credential === undefined ? undefined : credentials.get(tls.credential);
    const settings: UpstreamTls = {
      ca: ca ?? c?.caPem,
      cert: cert ?? c?.certPem,
      key: key_ ?? c?.keyPem,
      serverName: tls.serverName ?? hostName,
    };
    if (tls.subjectAltNames) settings.subjectAltNames = tls.subjectAltNames;
    if (tls.insecureSkipVerify) settings.insecureSkipVerify = true;
    out.set(key, settings);
  };
  const jobs: Promise<void>[] = [];
  for (const s of config.services.values()) {
    jobs.push(build(s, s.name, s.tls));
    for (const sub of s.subsets ?? [])
      jobs.push(build(s, poolKey(s.name, sub.name), sub.trafficPolicy?.tls ?? s.tls));
  }
  await Promise.all(jobs);
  return out;
}

function compileVirtualHost(
  vh: VirtualHostConfig,
  config: Config,
  serviceTls: Map<string, UpstreamTls>,
  pools: Map<string, PoolPlan>,
): VirtualHostPlan {
  return {
    hosts: vh.hosts,
    routes: vh.http.map((r, i) => compileRoute(r, i, vh, config, serviceTls, pools)),
  };
}

function dirOf(file: string): string {
  return file.replace(/\/[^/]*$/, "");
}

/** Validity and chain order, told at startup rather than by the first client that gives up. */
function judgeCredential(
  c: CredentialPlan,
  source: Source,
  opts: ProvisionOptions,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
): void {
  const now = opts.now ?? new Date();
  const stop = (message: string) => {
    if (opts.allowExpired) warnings.push(warningAt(source, `${message} (starting anyway: --allow-expired)`));
    else issues.push(issueAt(source, `${message}; renew it, or start with --allow-expired`));
  };
  for (const cert of c.chain) {
    const it = `certificate ${cert.subject} in ${c.certFile}`;
    if (now < cert.notBefore) stop(`${it} is not valid before ${cert.notBefore.toISOString()}`);
    else if (now > cert.notAfter) stop(`${it} expired on ${cert.notAfter.toISOString()}`);
    else {
      const days = daysLeft(cert.notAfter, now);
      if (days < (opts.warnDays ?? DEFAULT_WARN_DAYS)) {
        warnings.push(warningAt(source, `${it} expires in ${days} days (${cert.notAfter.toISOString()})`));
      }
    }
  }
  for (const p of c.chainProblems) issues.push(issueAt(source, `${c.certFile}: ${p}`));
}
