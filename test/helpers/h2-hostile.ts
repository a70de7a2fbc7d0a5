// Runs test/helpers/h2-hostile.py (python3-h2) for one attack and reads its JSON verdict.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

export interface H2Verdict {
  attack: string;
  /** Attack frames (or requests) sent before the server stopped the client. */
  sent: number;
  /** The GOAWAY's error code (RFC 9113 §7: 11 ENHANCE_YOUR_CALM, 9 COMPRESSION_ERROR, ...). */
  goaway: number | null;
  closed: boolean;
  /** RST_STREAM error codes received (1 PROTOCOL_ERROR). */
  rst: number[];
  /** Response statuses received on the hostile connection. */
  status: number[];
  /** PING and SETTINGS acknowledgements received. */
  acks: number;
  ms: number;
  /** Status of a normal GET / on a fresh connection afterwards (0: it failed). */
  after: number;
}

export interface H2Target {
  port: number;
  sni: string;
  ca: string;
  cert?: string;
  key?: string;
}

const SCRIPT = join(import.meta.dir, "h2-hostile.py");

/** The first python3 that can import h2 (a pyenv shim may hide Debian's python3-h2). */
const PYTHON = (() => {
  for (const py of [process.env.PORTICO_PYTHON, "python3", "/usr/bin/python3"]) {
    if (py && spawnSync(py, ["-c", "import h2"]).status === 0) return py;
  }
  throw new Error("no python3 with the h2 module: apt-get install python3-h2");
})();

export function h2Hostile(attack: string, t: H2Target, count: number): Promise<H2Verdict> {
  const args = [
    SCRIPT,
    attack,
    "--port",
    String(t.port),
    "--sni",
    t.sni,
    "--ca",
    t.ca,
    "--count",
    String(count),
  ];
  if (t.cert) args.push("--cert", t.cert, "--key", t.key!);
  // Node's and Deno's nghttp2 send a rapid reset's GOAWAY only once every stream is served:
  // 2.5-5 s on this 2-core machine when it is busy, past the default wait of 4 × 0.5 s.
  if (attack === "rapid-reset") args.push("--linger", "2");
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.on("close", (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as H2Verdict);
      } catch {
        reject(new Error(`h2-hostile.py ${attack} exited ${code}: ${out}${err}`));
      }
    });
  });
}
