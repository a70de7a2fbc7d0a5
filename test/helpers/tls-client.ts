// TLS clients and servers from the openssl binary, for what curl cannot do: curl's own OpenSSL
// refuses TLS 1.1 before any server is involved, `openssl s_client -tls1_1` at security level 0
// still offers it.
import { spawn } from "node:child_process";

export interface Handshake {
  /** A cipher was agreed: the handshake completed. */
  ok: boolean;
  /** "TLSv1.1", "TLSv1.3", ... as s_client reports the session. */
  protocol: string;
  cipher: string;
  output: string;
}

/** Old versions need the legacy ciphers, which OpenSSL 3 disables above security level 0. */
const OLD = ["-cipher", "DEFAULT@SECLEVEL=0"];

/** One handshake with `openssl s_client`, limited to one TLS version; closes right after it. */
export function handshake(
  port: number,
  opts: {
    servername?: string;
    version: "1.1" | "1.2" | "1.3";
    /** A client certificate and its key, for hosts that ask for one. */
    cert?: string;
    key?: string;
  },
): Promise<Handshake> {
  const flag = `-tls${opts.version.replace(".", "_")}`;
  const args = ["s_client", "-connect", `127.0.0.1:${port}`, flag, ...(opts.version === "1.3" ? [] : OLD)];
  if (opts.servername) args.push("-servername", opts.servername);
  if (opts.cert && opts.key) args.push("-cert", opts.cert, "-key", opts.key);
  return new Promise((resolve, reject) => {
    const p = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    p.stdout.on("data", (d) => (output += d));
    p.stderr.on("data", (d) => (output += d));
    p.on("error", reject);
    const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    p.stdin.end("Q\n");
    p.on("close", () => {
      clearTimeout(timer);
      const cipher = /Cipher is (\S+)/.exec(output)?.[1] ?? "(NONE)";
      // TLS 1.3 sessions may close before s_client prints its SSL-Session block.
      const session = /Protocol\s*: (\S+)/.exec(output)?.[1];
      const protocol = session ?? /New, (TLSv[\d.]+), Cipher/.exec(output)?.[1];
      resolve({ ok: cipher !== "(NONE)", protocol: protocol ?? "", cipher, output });
    });
  });
}

export interface OldTlsServer {
  port: number;
  stop(): void;
}

/** `openssl s_server` that speaks TLS 1.1 only: shows that handshake() really can offer it. */
export function tls11Server(cert: string, key: string): Promise<OldTlsServer> {
  const args = ["s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key, "-tls1_1", ...OLD, "-www"];
  const p = spawn("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error(`openssl s_server did not start:\n${output}`));
    }, 10_000);
    const onData = (d: Buffer) => {
      output += d;
      const port = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({ port: Number(port), stop: () => p.kill() });
    };
    p.stdout.on("data", onData);
    p.stderr.on("data", onData);
    p.on("error", reject);
  });
}
