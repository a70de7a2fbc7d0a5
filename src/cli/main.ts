// Composes config → provision → gateway for the chosen command. The only place that picks the
// listener adapter and the upstream client.

import { ConfigError, PorticoError, UsageError, formatIssue } from "../util/errors.ts";
import { FileMemo, FileReads, probe, recordReads } from "../util/file-reads.ts";
import { startGateway, type Gateway } from "../gateway/start-gateway.ts";
import type { HttpListenerSpec, RunningListener, StartListener } from "../listeners/_shared/types.ts";
import { serveAdmin, startAdmin } from "../admin/start.ts";
import { adminToken, checkAdminExposure } from "../admin/token.ts";
import { parseAdminAddress, type AdminAddress } from "../config/admin-address.ts";
import { Metrics } from "../observe/metrics.ts";
import { DEFAULT_ADMIN } from "../config/defaults.ts";
import { selectAdapter } from "../listeners/select.ts";
import type { Plan } from "../provision/plan.ts";
import { provision } from "../provision/provision.ts";
import { CredentialCache } from "../provision/credentials.ts";
import { createUpstreamClient } from "../upstream/client.ts";
import { UpstreamClients } from "../upstream/clients.ts";
import { type PoolEvent, UpstreamPools } from "../upstream/pools.ts";
import { currentRuntime } from "../util/runtime.ts";
import { VERSION, runtimeName } from "./version.ts";
import { USAGE, parseArgs, type ParsedArgs } from "./args.ts";
import { AccessLogSetup } from "./access-log-setup.ts";
import { ComposeCache, loadSources } from "./config-files.ts";
import { log, setLogFormat } from "./log.ts";
import { observers } from "../observe/records.ts";
import { type Loaded, Reloader } from "./reload.ts";
import { type FileWatcher, watchWhileWanted } from "./watch.ts";
import { fetchTicketKey, reportReady, workerIndex } from "./control.ts";
import { followTicketKeys } from "./ticket-key-sharing.ts";
import { closingLines, listenerLines, logLines, type RunningFact } from "./summary.ts";
import { hostPort } from "../util/host-table.ts";
import { supervise } from "./workers.ts";
import { watchSupervisor } from "./worker-process.ts";
import type { AdminApp } from "../admin/app.ts";
import { AcmeManager, type ChallengeType } from "../acme/manager.ts";
import { AcmeStorage } from "../acme/storage.ts";
import { ChallengeResponder } from "../acme/challenges.ts";
import { dataDirOf } from "../acme/data-dir.ts";
import { acmeAlpnUnsupported, listenAcmeAlpn } from "../listeners/_shared/acme-alpn-server.ts";

type AdminAdapterFor = (spec: HttpListenerSpec) => { start: StartListener };

export async function main(argv: string[]): Promise<number> {
  // `certs` has its own sub-commands and options (src/cli/certs-command.ts).
  // (Imported here only: it needs the X.509 stack, which `run` does not load; certs/x509-loader.ts.)
  if (argv[0] === "certs") return (await import("./certs-command.ts")).certsCommand(argv.slice(1));
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`portico: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  setLogFormat(args.logFormat);
  switch (args.command) {
    case "help":
      process.stdout.write(USAGE);
      return 0;
    case "version":
      process.stdout.write(`portico ${VERSION} (${runtimeName()})\n`);
      return 0;
    case "validate":
      return validate(args);
    case "run":
      return run(args);
  }
}

/** The admin endpoints, as the startup summary lists them. */
const ADMIN_ENDPOINTS = ["/healthz", "/certs", "/upstreams", "/metrics", "/config", "POST /reload"];

/**
 * Reads and provisions the configuration, noting in `reads` every file it consults (the
 * watcher's list). `quiet`: warnings are counted, not logged (a worker's supervisor logged them).
 */
async function load(
  args: ParsedArgs,
  reads = new FileReads(),
  quiet = false,
  acme?: AcmeManager,
  caches?: LoadCaches,
): Promise<Loaded & { warnings: number }> {
  const loaded = await recordReads(
    reads,
    async () => ({ ...(await loadConfig(args, quiet, acme, caches)), reads }),
    caches?.files,
  );
  // Counted when the load ended (recordReads swept the memo).
  return caches ? { ...loaded, files: caches.files.lastLoad } : loaded;
}

/**
 * What a reload may reuse from the loads before it: the files unchanged since (not read again),
 * the composed config, parsed credentials.
 */
interface LoadCaches {
  files: FileMemo;
  config: ComposeCache;
  credentials: CredentialCache;
}

async function loadConfig(
  args: ParsedArgs,
  quiet: boolean,
  acme: AcmeManager | undefined,
  caches: LoadCaches | undefined,
) {
  const credentialDirs = args.credentialDirs.length ? args.credentialDirs : probe("certs") ? ["certs"] : [];
  const config = await loadSources(
    args.configFiles,
    {
      services: args.services,
      portMap: args.portMap,
      bindAddress: args.bindAddress,
      credentialDirs,
      warn: (issue) => {
        if (!quiet) log.info(formatIssue(issue));
      },
    },
    caches?.config,
  );
  // --path-normalization beats routes.yaml's settings.pathNormalization, which beats BASE.
  if (args.pathNormalization) config.settings.pathNormalization = args.pathNormalization;
  const provisioned = await provision(config, {
    allowExpired: args.allowExpired,
    warnDays: args.warnDays,
    acme,
    credentials: caches?.credentials,
  });
  if (!quiet) for (const w of provisioned.warnings) log.warn(formatIssue(w));
  return {
    config,
    plan: provisioned.plan,
    warnings: provisioned.warnings.length,
    credentials: caches?.credentials.lastLoad,
  };
}

async function validate(args: ParsedArgs): Promise<number> {
  const file = args.configFiles.join(", ");
  try {
    const { plan } = await load(args);
    process.stdout.write(
      `${file}: ok (${plan.listeners.length + plan.streamListeners.length} listeners, ` +
        `${plan.credentials.length} credentials)\n`,
    );
    return 0;
  } catch (err) {
    return reportFatal(err);
  }
}

async function run(args: ParsedArgs): Promise<number> {
  const worker = workerIndex();
  if (args.workers > 1 && worker === undefined) return superviseWorkers(args);
  const file = args.configFiles.join(", ");
  let gateway: Gateway | undefined;
  let admin: { listener: RunningListener; url: string } | undefined;
  let reloader: Reloader | undefined;
  let watcher: FileWatcher | undefined;
  const pools = new UpstreamPools({ onEvent: logPoolEvent });
  const accessLog = new AccessLogSetup(args);
  // Certificates from ACME CAs: stored ones are read during the load; ordering starts once the
  // listeners that answer the challenges are up; a new certificate reloads (acme/manager.ts).
  const acme = startAcme(
    worker !== undefined,
    args,
    () => reloader?.current.plan,
    (name) => void reloader?.reload("acme", name),
  );
  // Shared by every load of this process, so a reload parses only what changed.
  const caches: LoadCaches = {
    files: new FileMemo(),
    config: new ComposeCache(),
    credentials: new CredentialCache(),
  };
  try {
    const initial = await load(args, undefined, worker !== undefined, acme, caches);
    // A worker's admin listener is its own, on an ephemeral loopback port the supervisor reads.
    const adminAt = adminPlace(worker === undefined ? args.admin : "127.0.0.1:0", initial.plan.admin);
    const token = worker === undefined ? adminToken() : undefined;
    // Refused before any listener binds.
    if (adminAt.where) checkAdminExposure(adminAt.where, token, adminAt.field);
    await accessLog.apply(initial.plan.accessLog);
    const metrics = new Metrics({
      plan: () => reloader?.current.plan ?? initial.plan,
      accessLogDropped: () => accessLog.dropped(),
      acme: () => acme.status(),
    });
    const running = await startGateway(initial.plan, {
      adapterFor: (spec) => selectAdapter(spec, currentRuntime(), args.adapter),
      clients: new UpstreamClients((tls, protocol, connection) =>
        createUpstreamClient(tls, protocol, undefined, connection),
      ),
      pools,
      onError: (err) => log.error(err.message),
      // Every sink of the traffic records, in one place. The access log's stays attached when
      // it is off (it then does nothing), so a reload can turn it on.
      observer: observers([metrics, accessLog.observer]),
    });
    gateway = running;
    // SIGHUP, a changed file and POST /reload: the same files and flags, read again. A config
    // that does not load changes nothing; one that does is applied listener by listener.
    reloader = new Reloader({
      initial,
      load: (reads) => load(args, reads, false, acme, caches),
      apply: async (plan) => {
        const report = await running.apply(plan);
        await accessLog.apply(plan.accessLog);
        return report;
      },
      listenerLines: (plan, only) => listenerLines(plan, runningFacts(running), only, admin?.url),
      what: file,
    });
    reloader.onReloaded((result) => metrics.reloaded(result.ok));
    const r = reloader;
    admin = await startAdminListener(adminAt, token, (where, adapterFor) =>
      startAdmin(
        () => r.current.plan,
        where,
        adapterFor,
        pools,
        {
          config: () => r.current.config,
          reload: () => r.reload("api"),
          acme,
        },
        metrics,
        token,
      ),
    );
    // --watch beats routes.yaml's settings.watch, which a reload may change. Each worker
    // watches for itself, so a change reaches every one of them.
    watcher = watchWhileWanted(r, () => args.watch ?? r.current.config.settings.watch ?? true);
    acme.start();
    const facts = runningFacts(running);
    if (worker !== undefined) {
      followTicketKeys(fetchTicketKey);
      await reportReady({ worker, pid: process.pid, adminPort: admin!.listener.port, listeners: facts });
      watchSupervisor();
    } else {
      logLines(listenerLines(initial.plan, facts, undefined, admin?.url));
      logLines(closingLines(totals(args, initial.plan, 1, initial.warnings, admin?.url), ADMIN_ENDPOINTS));
    }
  } catch (err) {
    // Listeners already started must not keep the process alive after a fatal error.
    acme.close();
    await gateway?.close();
    const code = reportFatal(err);
    // A worker's channel to its supervisor (node:cluster's IPC) would keep it alive.
    if (worker !== undefined) process.exit(code);
    return code;
  }

  const reloads = reloader!;
  process.on("SIGHUP", () => void reloads.reload("signal"));

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal}: shutting down`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  watcher?.close();
  acme.close();
  await reloads.idle();
  await Promise.all([gateway.close(), admin?.listener.close()]);
  await accessLog.close();
  log.info("stopped");
  // Pooled keep-alive connections to upstreams would hold the event loop open for a while;
  // everything worth finishing has finished.
  process.exit(0);
}

/**
 * The ACME lifecycle of this process, on the data directory. It does nothing (and touches no
 * disk) unless a credential is ACME. Challenge kinds follow the listeners: http-01 when a plain
 * HTTP listener exists (preferred: it works behind any TLS setup), tls-alpn-01 when an HTTPS
 * listener serves an ACME credential's host.
 */
function startAcme(
  inWorker: boolean,
  args: ParsedArgs,
  plan: () => Plan | undefined,
  changed: (credential: string) => void,
): AcmeManager {
  const storage = new AcmeStorage(dataDirOf(args.dataDir));
  // Under --workers every worker runs this lifecycle on the shared data directory (the lock
  // makes one of them order). http-01 tokens are in that directory, so any worker answers; a
  // tls-alpn-01 handshake could reach a worker without the validation certificate, so not that.
  const alpnUnsupported = inWorker
    ? "with --workers, the CA's tls-alpn-01 handshake may reach a worker that is not validating"
    : acmeAlpnUnsupported();
  return new AcmeManager({
    storage,
    responder: new ChallengeResponder(listenAcmeAlpn, storage),
    alpnUnsupported,
    available: () => {
      const p = plan();
      const out: ChallengeType[] = [];
      if (p?.listeners.some((l) => l.kind === "http")) out.push("http-01");
      const tls = p?.listeners.some((l) => l.kind === "https" && l.acmeTlsAlpn !== undefined);
      if (tls && alpnUnsupported === undefined) out.push("tls-alpn-01");
      return out;
    },
    onChange: changed,
    log: { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m, f) => log.error(m, f) },
  });
}

/** What each running listener bound, for the summary and a worker's report. */
function runningFacts(gateway: Gateway): RunningFact[] {
  return gateway.listeners.map((r) => ({
    name: r.name,
    port: r.port,
    adapter: gateway.adapterOf(r),
    ...(r.unenforced?.length ? { unenforced: r.unenforced } : {}),
  }));
}

function totals(args: ParsedArgs, plan: Plan, workers: number, warnings: number, admin?: string) {
  return {
    version: VERSION,
    runtime: runtimeName(),
    files: args.configFiles,
    listeners: plan.listeners.length + plan.streamListeners.length,
    workers,
    warnings,
    admin,
  };
}

/** `portico run --workers N`: this process supervises N workers (workers.ts). */
function superviseWorkers(args: ParsedArgs): Promise<number> {
  const token = adminToken();
  return supervise({
    count: args.workers,
    // An exposed admin address is refused with the configuration, before any worker starts.
    load: async () => {
      const loaded = await load(args);
      const at = adminPlace(args.admin, loaded.plan.admin);
      if (at.where) checkAdminExposure(at.where, token, at.field);
      return loaded;
    },
    fatal: reportFatal,
    startAdmin: (app: AdminApp, plan: Plan) =>
      startAdminListener(adminPlace(args.admin, plan.admin), token, (where, adapterFor) =>
        serveAdmin(app, where, adapterFor, token),
      ),
    summary: (plan, first, adminUrl, warnings) => {
      logLines(listenerLines(plan, first.listeners, undefined, adminUrl));
      logLines(closingLines(totals(args, plan, args.workers, warnings, adminUrl), ADMIN_ENDPOINTS));
    },
  });
}

function reportFatal(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(
      `portico: invalid configuration:\n${err.issues.map((i) => `  ${formatIssue(i)}`).join("\n")}\n`,
    );
    return 1;
  }
  if (err instanceof PorticoError) {
    process.stderr.write(`portico: ${err.message}\n`);
    return 1;
  }
  throw err;
}

/** Where the admin listener goes, and which field said so. */
interface AdminPlace {
  where: AdminAddress | undefined;
  /** Given by --admin or settings.admin (not the default). */
  given: boolean;
  field: "--admin" | "settings.admin";
}

/** --admin beats routes.yaml's settings.admin, which beats the default; "off": undefined. */
function adminPlace(flag: string | undefined, configured: string | undefined): AdminPlace {
  const parsed = parseAdminAddress(flag ?? configured ?? DEFAULT_ADMIN);
  return {
    where: parsed === "off" ? undefined : parsed,
    given: (flag ?? configured) !== undefined,
    field: flag !== undefined ? "--admin" : "settings.admin",
  };
}

/**
 * The admin listener is a convenience: when its default port is taken (another Portico on the
 * machine), traffic is served anyway and the log says so. A port given explicitly must work.
 * It is started once; a reload does not move it.
 */
async function startAdminListener(
  place: AdminPlace,
  token: string | undefined,
  start: (where: AdminAddress, adapterFor: AdminAdapterFor) => Promise<RunningListener>,
): Promise<{ listener: RunningListener; url: string } | undefined> {
  const where = place.where;
  if (where === undefined) return undefined;
  try {
    const adapterFor = (spec: HttpListenerSpec) => selectAdapter(spec, currentRuntime(), "auto");
    const listener = await start(where, adapterFor);
    return { listener, url: `http://${hostPort(where.address, listener.port)}` };
  } catch (err) {
    if (place.given) throw err;
    log.warn(`admin listener not started: ${(err as Error).message}; use --admin ADDR:PORT or --admin off`);
    return undefined;
  }
}

/** Ejections, returns, health-check changes and DNS failures: what an operator wants in the log. */
function logPoolEvent(e: PoolEvent): void {
  if (e.kind === "dns-error") {
    log.warn(e.error.message);
    return;
  }
  const where = e.endpoint.key;
  if (e.kind === "ejected") log.warn(`upstream ${where} ejected (${e.reason})`);
  else if (e.kind === "returned") log.info(`upstream ${where} returned from ejection`);
  else log.info(`upstream ${where} health check ${e.healthy ? "passing" : `failing: ${e.reason ?? ""}`}`);
}
