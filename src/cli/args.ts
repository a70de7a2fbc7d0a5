// Command-line parsing: small on purpose (no dependency), strict about unknown flags.

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
}

const ADAPTER_NAMES = ["auto", "bun-serve", "bun-sni", "node-http2-pipe", "node-http2"];

export class UsageError extends Error {
  override name = "UsageError";
}

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
  -c, --config PATH   a routes.yaml, an Istio YAML file (Gateway, VirtualService, Secret) or a
                      folder of them; repeat to combine (default ./routes.yaml)
  --service NAME=URL  where a VirtualService destination host lives (http://127.0.0.1:9080,
                      or tcp://127.0.0.1:2701 for tcp and tls routes)
  --port FROM=TO      bind port TO where a Gateway says FROM (--port 443=8443)
  --bind ADDR         address for listeners made from Gateways (default 0.0.0.0)
  --credentials DIR   folders DIR/<credentialName>/ with tls.crt, tls.key [, ca.crt] for
                      credentialName (default ./certs when it exists)
  --admin ADDR:PORT   admin listener (/healthz, /certs); default 127.0.0.1:15000; "off"
  --allow-expired     start even with expired or not-yet-valid certificates (warns)
  --warn-days N       warn about certificates that expire within N days (default 30)
  --adapter NAME      listener implementation: auto (default: the fastest one of this runtime
                      that honours the listener), bun-serve, bun-sni, node-http2-pipe or
                      node-http2; a
                      listener the named adapter cannot serve exactly stops startup

Signals: SIGINT or SIGTERM stop accepting, let requests in flight finish (2 s at most), exit 0.
`;

export function parseArgs(argv: string[]): ParsedArgs {
  const configFiles: string[] = [];
  let adapter = "auto";
  const services = new Map<string, string>();
  const portMap = new Map<number, number>();
  let bindAddress = "0.0.0.0";
  const credentialDirs: string[] = [];
  let admin: string | undefined;
  let allowExpired = false;
  let warnDays = 30;
  const value = (a: string, i: number): [string, number] => {
    if (/^--[a-z-]+=/.test(a)) return [a.slice(a.indexOf("=") + 1), i];
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("-")) throw new UsageError(`${a} needs a value`);
    return [v, i + 1];
  };
  let command: ParsedArgs["command"] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help" || a === "help") command = "help";
    else if (a === "-v" || a === "--version") command = "version";
    else if (a === "-c" || a === "--config") {
      const v = argv[++i];
      if (v === undefined || v.startsWith("-")) throw new UsageError(`${a} needs a file name`);
      configFiles.push(v);
    } else if (a.startsWith("--config=")) configFiles.push(a.slice("--config=".length));
    else if (a === "--service" || a.startsWith("--service=")) {
      let v;
      [v, i] = value(a, i);
      const eq = v.indexOf("=");
      const url = v.slice(eq + 1);
      if (eq <= 0 || !/^(https?|tcp):\/\/[^/]/.test(url)) throw new UsageError(`--service expects NAME=URL such as webapp=http://127.0.0.1:9080 or echo=tcp://127.0.0.1:2701, got "${v}"`);
      services.set(v.slice(0, eq), url);
    } else if (a === "--port" || a.startsWith("--port=")) {
      let v;
      [v, i] = value(a, i);
      const m = /^(\d{1,5})=(\d{1,5})$/.exec(v);
      if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) throw new UsageError(`--port expects FROM=TO such as 443=8443, got "${v}"`);
      portMap.set(Number(m[1]), Number(m[2]));
    } else if (a === "--bind" || a.startsWith("--bind=")) {
      [bindAddress, i] = value(a, i);
    } else if (a === "--credentials" || a.startsWith("--credentials=")) {
      let v;
      [v, i] = value(a, i);
      credentialDirs.push(v);
    } else if (a === "--admin" || a.startsWith("--admin=")) {
      [admin, i] = value(a, i);
      if (!/^(off|(\[[0-9a-fA-F:.]+\]|[0-9.]*):\d{1,5})$/.test(admin)) throw new UsageError(`--admin expects ADDR:PORT (127.0.0.1:15000) or off, got "${admin}"`);
    } else if (a === "--allow-expired") {
      allowExpired = true;
    } else if (a === "--warn-days" || a.startsWith("--warn-days=")) {
      let v;
      [v, i] = value(a, i);
      if (!/^\d{1,5}$/.test(v)) throw new UsageError(`--warn-days expects a number of days, got "${v}"`);
      warnDays = Number(v);
    } else if (a === "--adapter" || a.startsWith("--adapter=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (!v || !ADAPTER_NAMES.includes(v)) throw new UsageError(`--adapter must be one of ${ADAPTER_NAMES.join(", ")}`);
      adapter = v;
    }
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else if (command === undefined && (a === "run" || a === "validate" || a === "version")) command = a;
    else throw new UsageError(`unexpected argument "${a}"`);
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
  };
}
