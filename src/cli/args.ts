// Command-line parsing: small on purpose (no dependency), strict about unknown flags.

export interface ParsedArgs {
  command: "run" | "validate" | "version" | "help";
  configFiles: string[];
  /** "auto" (fastest that honours the listener) or an adapter name to insist on. */
  adapter: string;
}

const ADAPTER_NAMES = ["auto", "bun-serve", "bun-sni", "node-http2"];

export class UsageError extends Error {
  override name = "UsageError";
}

export const USAGE = `portico — an edge proxy that does what an Istio ingress gateway does

Usage:
  portico run [-c routes.yaml]       start serving (default config: ./routes.yaml)
  portico validate [-c routes.yaml]  check the configuration and certificates, then exit
  portico version                    print the version and the runtime
  portico --help                     this text

Options:
  -c, --config FILE   configuration file (default ./routes.yaml)
  --adapter NAME      listener implementation: auto (default: the fastest one of this runtime
                      that honours the listener), bun-serve, bun-sni or node-http2; a
                      listener the named adapter cannot serve exactly stops startup

Signals: SIGINT or SIGTERM stop accepting, let requests in flight finish (2 s at most), exit 0.
`;

export function parseArgs(argv: string[]): ParsedArgs {
  const configFiles: string[] = [];
  let adapter = "auto";
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
    else if (a === "--adapter" || a.startsWith("--adapter=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (!v || !ADAPTER_NAMES.includes(v)) throw new UsageError(`--adapter must be one of ${ADAPTER_NAMES.join(", ")}`);
      adapter = v;
    }
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else if (command === undefined && (a === "run" || a === "validate" || a === "version")) command = a;
    else throw new UsageError(`unexpected argument "${a}"`);
  }
  if (configFiles.length > 1) throw new UsageError("only one -c file is supported for now");
  return { command: command ?? "help", configFiles: configFiles.length ? configFiles : ["routes.yaml"], adapter };
}
