// Composes config → provision → gateway for the chosen command. The only place that picks the
// listener adapter and the upstream client.

import { existsSync } from "node:fs";
import { ConfigError, PorticoError, UsageError, formatIssue } from "../util/errors.ts";
import { startGateway, type Gateway } from "../gateway/start-gateway.ts";
import type { HttpListenerSpec, RunningListener } from "../listeners/_shared/types.ts";
import { startAdmin } from "../admin/start.ts";
import { Metrics } from "../observe/metrics.ts";
import { observers } from "../observe/records.ts";
import { parseAdminAddress } from "../config/admin-address.ts";
import { DEFAULT_ADMIN } from "../config/defaults.ts";
import { selectAdapter } from "../listeners/select.ts";
import type { Plan } from "../provision/plan.ts";
import { provision } from "../provision/provision.ts";
import { createUpstreamClient } from "../upstream/client.ts";
import { UpstreamClients } from "../upstream/clients.ts";
import { type PoolEvent, UpstreamPools } from "../upstream/pools.ts";
import { currentRuntime } from "../util/runtime.ts";
import { VERSION, runtimeName } from "./version.ts";
import { USAGE, parseArgs, type ParsedArgs } from "./args.ts";
import { certsCommand } from "./certs-command.ts";
import { loadSources } from "./config-files.ts";
import { log } from "./log.ts";

export async function main(argv: string[]): Promise<number> {
  // `certs` has its own sub-commands and options (src/cli/certs-command.ts).
  if (argv[0] === "certs") return certsCommand(argv.slice(1));
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

async function load(args: ParsedArgs) {
  const credentialDirs = args.credentialDirs.length
    ? args.credentialDirs
    : existsSync("certs")
      ? ["certs"]
      : [];
  const config = await loadSources(args.configFiles, {
    services: args.services,
    portMap: args.portMap,
    bindAddress: args.bindAddress,
    credentialDirs,
    warn: (issue) => log.info(formatIssue(issue)),
  });
  // --path-normalization beats routes.yaml's settings.pathNormalization, which beats BASE.
  if (args.pathNormalization) config.settings.pathNormalization = args.pathNormalization;
  const provisioned = await provision(config, { allowExpired: args.allowExpired, warnDays: args.warnDays });
  for (const w of provisioned.warnings) log.warn(formatIssue(w));
  return provisioned.plan;
}

async function validate(args: ParsedArgs): Promise<number> {
  const file = args.configFiles.join(", ");
  try {
    const plan = await load(args);
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
  const file = args.configFiles.join(", ");
  let gateway: Gateway | undefined;
  let admin: RunningListener | undefined;
  let current: Plan;
  const pools = new UpstreamPools({ onEvent: logPoolEvent });
  const metrics = new Metrics({ plan: () => current });
  // Every sink of the traffic records (metrics; the access log goes beside it).
  const observer = observers([metrics]);
  try {
    current = await load(args);
    gateway = await startGateway(current, {
      adapterFor: (spec) => selectAdapter(spec, currentRuntime(), args.adapter),
      clients: new UpstreamClients((tls, protocol, connection) =>
        createUpstreamClient(tls, protocol, undefined, connection),
      ),
      pools,
      onError: (err) => log.error(err.message),
      observer,
    });
    logListeners(current, gateway);
    admin = await startAdminListener(args, () => current, current.admin, pools, metrics);
    log.info(`portico ${VERSION} (${runtimeName()}) serving ${file}`);
  } catch (err) {
    // Listeners already started must not keep the process alive after a fatal error.
    await gateway?.close();
    return reportFatal(err);
  }

  // SIGHUP reloads: the same files and flags, read again. A config that does not load changes
  // nothing; one that does is applied listener by listener (Gateway.apply).
  let reloading = Promise.resolve();
  const reload = async () => {
    log.info(`SIGHUP: reloading ${file}`);
    let next: Plan;
    try {
      next = await load(args);
    } catch (err) {
      const detail =
        err instanceof ConfigError
          ? err.issues.map((i) => formatIssue(i)).join("; ")
          : (err as Error).message;
      log.error(`reload refused, still serving the previous configuration: ${detail}`);
      metrics.reloaded(false);
      return;
    }
    const report = await gateway!.apply(next);
    current = next;
    metrics.reloaded(true);
    logListeners(next, gateway!, new Set([...report.started, ...report.restarted]));
    for (const f of report.failed) log.error(`listener ${f.name} could not start: ${f.error.message}`);
    log.info(
      `reloaded: ${report.updated.length} updated in place, ${report.restarted.length} restarted, ` +
        `${report.started.length} started, ${report.stopped.length} stopped, ${report.failed.length} failed`,
    );
  };
  process.on("SIGHUP", () => {
    reloading = reloading.then(reload);
  });

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal}: shutting down`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await reloading;
  await Promise.all([gateway.close(), admin?.close()]);
  log.info("stopped");
  // Pooled keep-alive connections to upstreams would hold the event loop open for a while;
  // everything worth finishing has finished.
  process.exit(0);
}

/** One line per listener (only those in `only`, when given). */
function logListeners(plan: Plan, gateway: Gateway, only?: Set<string>): void {
  for (const l of [...plan.listeners, ...plan.streamListeners]) {
    if (only && !only.has(l.name)) continue;
    const running = gateway.listeners.find((r) => r.name === l.name);
    const port = running?.port ?? l.port;
    const adapter = running ? gateway.adapterOf(running) : "?";
    let what: string;
    if (l.kind === "https") what = l.servers.map((s) => `${s.hosts.join(",")} (${s.mode})`).join(", ");
    else if (l.kind === "http") what = l.httpsRedirectPort !== undefined ? "redirect to https" : "http";
    else if (l.kind === "tcp")
      what = l.route?.upstreams.map((u) => `${u.service} ${u.host}:${u.port}`).join(", ") ?? "no route";
    else what = "passthrough by SNI";
    const kind = l.kind === "tls-passthrough" ? "TLS" : l.kind.toUpperCase();
    log.info(`listener ${l.name} on ${l.address}:${port} ${kind} [${adapter}]: ${what}`);
  }
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

/**
 * The admin listener is a convenience: when its default port is taken (another Portico on the
 * machine), traffic is served anyway and the log says so. A port given explicitly must work.
 * It is started once; a reload does not move it.
 */
async function startAdminListener(
  args: ParsedArgs,
  plan: () => Plan,
  configured: string | undefined,
  pools: UpstreamPools,
  metrics: Metrics,
): Promise<RunningListener | undefined> {
  // --admin beats routes.yaml's settings.admin, which beats the default.
  const given = args.admin ?? configured;
  const where = parseAdminAddress(given ?? DEFAULT_ADMIN);
  if (where === "off" || where === undefined) return undefined;
  try {
    const adapterFor = (spec: HttpListenerSpec) => selectAdapter(spec, currentRuntime(), "auto");
    const admin = await startAdmin(plan, where, adapterFor, pools, metrics);
    log.info(
      `admin on http://${where.address.includes(":") ? `[${where.address}]` : where.address}:${admin.port} ` +
        `(/healthz, /certs, /upstreams, /metrics)`,
    );
    return admin;
  } catch (err) {
    if (given !== undefined) throw err;
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
