// The command line of `portico run` and `validate` (flags.ts splits it; this gives each option
// its meaning). `portico certs` has its own options: certs-command.ts.

import { UsageError } from "../util/errors.ts";
import { parseAdminAddress } from "../config/admin-address.ts";
import { DEFAULT_ADMIN, DEFAULT_WARN_DAYS } from "../config/defaults.ts";
import { ADAPTERS } from "../listeners/select.ts";
import { PATH_NORMALIZATIONS, type PathNormalization } from "../util/path-normalize.ts";
import { availableParallelism } from "node:os";
import { parseFlags, type FlagSpec } from "./flags.ts";
import type { LogFormat } from "./log.ts";

export interface ParsedArgs {
  command: "run" | "validate" | "version" | "help";
  configFiles: string[];
  /** "auto" (fastest that honours the listener) or an adapter name to insist on. */
  adapter: string;
  /** --service name=url */
  services: Map<string, string>;
  /** --port 443=8443 */
  portMap: Map<number, number>;
  /** --bind ADDR, for listeners made from Istio Gateways. */
  bindAddress: string;
  /** --credentials DIR (repeatable). */
  credentialDirs: string[];
  /** --admin ADDR:PORT or "off" (undefined: the default, 127.0.0.1:15000). */
  admin: string | undefined;
  /** --allow-expired: start with expired or not-yet-valid certificates, with a warning. */
  allowExpired: boolean;
  /** --warn-days N: warn about certificates expiring within N days. */
  warnDays: number;
  /** --path-normalization LEVEL: beats routes.yaml's settings.pathNormalization. */
  pathNormalization: PathNormalization | undefined;
  /** --access-log stdout|stderr|off|PATH: beats routes.yaml's settings.accessLog.path. */
  accessLog: string | undefined;
  /** --access-log-format json|text: beats settings.accessLog.format. */
  accessLogFormat: "json" | "text" | undefined;
  /** --watch true|false: beats routes.yaml's settings.watch (default true). */
  watch: boolean | undefined;
  /** --workers N|auto: processes serving the listeners (1: this process alone). */
  workers: number;
  /** --log-format text|json: lifecycle lines on stderr. */
  logFormat: LogFormat;
  /** --data DIR: where ACME accounts and certificates are kept (undefined: acme/data-dir.ts). */
  dataDir: string | undefined;
}

const ADAPTER_NAMES = ["auto", ...ADAPTERS.map((a) => a.name)];
const ADAPTER_CHOICE = `must be one of ${ADAPTER_NAMES.join(", ")}`;
const WATCH_CHOICE = "expects true or false";
const PATH_CHOICE = `must be one of ${PATH_NORMALIZATIONS.join(", ")}`;
const WORKERS_CHOICE = "expects a number of processes (1 to 1024) or auto";
const LOG_FORMAT_CHOICE = "must be text or json";

export const USAGE = `portico — an edge proxy that does what an Istio ingress gateway does

Usage:
  portico run [-c routes.yaml]       start serving (default config: ./routes.yaml)
  portico validate [-c routes.yaml]  check the configuration and certificates, then exit
  portico certs inspect PATH...      read certificates, keys, chains, Secrets (--json, --ca)
  portico certs inspect --connect HOST:PORT   what a server presents
  portico certs gen ca|server|client ...      development CA and credential folders
  portico version                    print the version and the runtime
  portico --help                     this text

Options:
  -c, --config PATH   a routes.yaml, an Istio YAML file (Gateway, VirtualService, DestinationRule,
                      ServiceEntry, WorkloadEntry, Secret) or a folder of them; repeat to
                      combine (default ./routes.yaml)
  --service NAME=URL  where a VirtualService destination host lives (http://127.0.0.1:9080;
                      h2c:// or h2:// for HTTP/2 and gRPC; tcp://127.0.0.1:2701 for tcp and
                      tls routes)
  --port FROM=TO      bind port TO where a Gateway says FROM (--port 443=8443)
  --bind ADDR         address for listeners made from Gateways (default 0.0.0.0)
  --credentials DIR   folders DIR/<credentialName>/ with tls.crt, tls.key [, ca.crt] for
                      credentialName (default ./certs when it exists)
  --admin ADDR:PORT   admin listener (/healthz, /ready, /certs, /upstreams, /metrics, /config,
                      POST /reload); default ${DEFAULT_ADMIN}; "off". Off loopback it needs
                      PORTICO_ADMIN_TOKEN set, then asked as Authorization: Bearer (not by
                      /healthz, /ready)
  --allow-expired     start even with expired or not-yet-valid certificates (warns)
  --warn-days N       warn about certificates that expire within N days (default ${DEFAULT_WARN_DAYS})
  --adapter NAME      listener implementation: auto (default: the fastest one of this runtime
                      that honours the listener) or one of
                      ${ADAPTERS.map((a) => a.name).join(", ")};
                      a listener the named adapter cannot serve exactly stops startup
  --path-normalization LEVEL  Istio's pathNormalization for matching and forwarding: NONE,
                      BASE (default), MERGE_SLASHES or DECODE_AND_MERGE_SLASHES
  --access-log WHERE  one line per request and per TCP connection: stdout (default), stderr,
                      off, or a file path (appended to)
  --access-log-format json|text   JSON lines (default) or Envoy's default text line
  --workers N|auto    serve with N worker processes sharing the listening ports (default 1;
                      auto: one per available core)
  --log-format FMT    lifecycle lines on stderr as text (default) or json
  --data DIR          where ACME accounts, certificates and locks are kept (default
                      /var/lib/portico for root, else $XDG_DATA_HOME/portico or
                      ~/.local/share/portico); instances may share it
  --watch BOOL        reload when a loaded file changes (routes.yaml, Istio documents,
                      credentials); default true; --watch=false turns it off

Signals: SIGHUP reloads the configuration (as a file change and POST /reload on the admin
listener do). SIGINT or SIGTERM stop accepting, let requests in flight finish (2 s at most), exit 0.
`;

/** The options of `portico run` and `validate`; any may be repeated (lists collect, else the last wins). */
const FLAGS: Record<string, FlagSpec> = {
  "--help": { aliases: ["-h"], repeatable: true },
  "--version": { aliases: ["-v"], repeatable: true },
  "--config": { value: true, aliases: ["-c"], repeatable: true, missing: "needs a file name" },
  "--service": { value: true, repeatable: true },
  "--port": { value: true, repeatable: true },
  "--bind": { value: true, repeatable: true },
  "--credentials": { value: true, repeatable: true },
  "--admin": { value: true, repeatable: true },
  "--allow-expired": { repeatable: true },
  "--warn-days": { value: true, repeatable: true },
  "--adapter": { value: true, repeatable: true, missing: ADAPTER_CHOICE },
  "--path-normalization": { value: true, repeatable: true, missing: PATH_CHOICE },
  "--access-log": { value: true, repeatable: true, missing: "needs stdout, stderr, off or a file path" },
  "--access-log-format": { value: true, repeatable: true, missing: "must be json or text" },
  "--watch": { value: true, repeatable: true, missing: WATCH_CHOICE },
  "--workers": { value: true, repeatable: true, missing: WORKERS_CHOICE },
  "--log-format": { value: true, repeatable: true, missing: LOG_FORMAT_CHOICE },
  "--data": { value: true, repeatable: true, missing: "needs a folder" },
};

export function parseArgs(argv: string[]): ParsedArgs {
  const configFiles: string[] = [];
  let adapter = "auto";
  const services = new Map<string, string>();
  const portMap = new Map<number, number>();
  let bindAddress = "0.0.0.0";
  const credentialDirs: string[] = [];
  let admin: string | undefined;
  let allowExpired = false;
  let warnDays = DEFAULT_WARN_DAYS;
  let dataDir: string | undefined;
  let pathNormalization: PathNormalization | undefined;
  let accessLog: string | undefined;
  let accessLogFormat: "json" | "text" | undefined;
  let watch: boolean | undefined;
  let workers = 1;
  let logFormat: LogFormat = "text";
  let command: ParsedArgs["command"] | undefined;
  // In order: a flag such as --help sets the command as a word would, so which comes first matters.
  for (const arg of parseFlags(argv, FLAGS)) {
    if ("positional" in arg) {
      const a = arg.positional;
      if (a === "help") command = "help";
      else if (command === undefined && (a === "run" || a === "validate" || a === "version")) command = a;
      else throw new UsageError(`unexpected argument "${a}"`);
      continue;
    }
    const v = arg.value;
    switch (arg.flag) {
      case "--help":
        command = "help";
        break;
      case "--version":
        command = "version";
        break;
      case "--config":
        configFiles.push(v);
        break;
      case "--service": {
        const eq = v.indexOf("=");
        const url = v.slice(eq + 1);
        if (eq <= 0 || !/^(https?|tcp):\/\/[^/]/.test(url)) {
          const examples = "webapp=http://127.0.0.1:9080 or echo=tcp://127.0.0.1:2701";
          throw new UsageError(`--service expects NAME=URL such as ${examples}, got "${v}"`);
        }
        services.set(v.slice(0, eq), url);
        break;
      }
      case "--port": {
        const m = /^(\d{1,5})=(\d{1,5})$/.exec(v);
        if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) {
          throw new UsageError(`--port expects FROM=TO such as 443=8443, got "${v}"`);
        }
        portMap.set(Number(m[1]), Number(m[2]));
        break;
      }
      case "--bind":
        bindAddress = v;
        break;
      case "--credentials":
        credentialDirs.push(v);
        break;
      case "--admin":
        if (parseAdminAddress(v) === undefined) {
          throw new UsageError(`--admin expects ADDR:PORT (127.0.0.1:15000) or off, got "${v}"`);
        }
        admin = v;
        break;
      case "--allow-expired":
        allowExpired = true;
        break;
      case "--warn-days":
        if (!/^\d{1,5}$/.test(v)) throw new UsageError(`--warn-days expects a number of days, got "${v}"`);
        warnDays = Number(v);
        break;
      case "--adapter":
        if (!ADAPTER_NAMES.includes(v)) throw new UsageError(`--adapter ${ADAPTER_CHOICE}`);
        adapter = v;
        break;
      case "--path-normalization":
        if (!(PATH_NORMALIZATIONS as readonly string[]).includes(v))
          throw new UsageError(`--path-normalization ${PATH_CHOICE}`);
        pathNormalization = v as PathNormalization;
        break;
      case "--access-log":
        if (v === "") throw new UsageError("--access-log needs stdout, stderr, off or a file path");
        accessLog = v;
        break;
      case "--access-log-format":
        if (v !== "json" && v !== "text") throw new UsageError("--access-log-format must be json or text");
        accessLogFormat = v;
        break;
      case "--watch":
        if (v !== "true" && v !== "false") throw new UsageError(`--watch ${WATCH_CHOICE}, got "${v}"`);
        watch = v === "true";
        break;
      case "--workers":
        workers = v === "auto" ? availableParallelism() : /^\d{1,4}$/.test(v) ? Number(v) : 0;
        if (workers < 1 || workers > 1024) throw new UsageError(`--workers ${WORKERS_CHOICE}, got "${v}"`);
        break;
      case "--log-format":
        if (v !== "text" && v !== "json") throw new UsageError(`--log-format ${LOG_FORMAT_CHOICE}`);
        logFormat = v;
        break;
      case "--data":
        if (v === "") throw new UsageError("--data needs a folder");
        dataDir = v;
        break;
    }
  }
  return {
    command: command ?? "help",
    configFiles: configFiles.length ? configFiles : ["routes.yaml"],
    adapter,
    services,
    portMap,
    bindAddress,
    credentialDirs,
    admin,
    allowExpired,
    warnDays,
    pathNormalization,
    accessLog,
    accessLogFormat,
    watch,
    workers,
    logFormat,
    dataDir,
  };
}
