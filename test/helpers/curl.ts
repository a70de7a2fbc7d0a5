// Runs the real curl binary, as the walkthrough does, and splits what it printed.
import { spawn } from "node:child_process";

export interface CurlResult {
  /** curl's exit code: 0 success, 35 handshake failure, 56 receive failure, ... */
  exitCode: number;
  status: number;
  httpVersion: string;
  headers: Map<string, string>;
  body: string;
  stderr: string;
}

const MARK = "\n--portico-curl-meta--";

/** `args` are curl's own flags and URL; -sS, -D and -w are added to read the result. */
export function curl(args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<CurlResult> {
  // Headers come from %{header_json} (curl ≥ 7.83): `-D /dev/stderr` crashes curl when its
  // stderr is a socket, as it is under Bun's spawn.
  const full = [
    "-sS",
    "--max-time",
    String((opts.timeoutMs ?? 10_000) / 1000),
    "-w",
    `${MARK}%{http_code} %{http_version} %{header_json}`,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    const p = spawn("curl", full, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.stdin.end(opts.input ?? "");
    p.on("close", (code) => {
      const i = out.lastIndexOf(MARK);
      const body = i >= 0 ? out.slice(0, i) : out;
      const meta = i >= 0 ? out.slice(i + MARK.length) : "0 0 {}";
      const [status, httpVersion] = meta.split(" ", 2);
      const json = meta.slice(meta.indexOf("{"));
      const headers = new Map<string, string>();
      for (const [name, values] of Object.entries(JSON.parse(json || "{}") as Record<string, string[]>))
        headers.set(name, values.join(", "));
      resolve({
        exitCode: code ?? -1,
        status: Number(status),
        httpVersion: httpVersion ?? "",
        headers,
        body,
        stderr: err,
      });
    });
  });
}
