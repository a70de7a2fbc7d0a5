// Loopback-only helpers for tests: free ports, bounded waiting, raw exchanges, listening ports.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { connect, createServer } from "node:net";
import { connect as tlsConnect } from "node:tls";

/**
 * The low end of the kernel's ephemeral range (outgoing connections and `listen(0)` take their
 * ports from there). Ports handed to tests come from below it: a port the OS picked for
 * `listen(0)` can be taken a moment later as the local port of some other test's outgoing
 * connection, and the Portico started on it then fails with "the port is in use".
 */
const EPHEMERAL_LOW = (() => {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
})();

/** Ports already handed out by this process: never handed out twice. */
const handedOut = new Set<number>();

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });

/**
 * A TCP port that was free on 127.0.0.1 a moment ago, below the ephemeral range (so no outgoing
 * connection takes it meanwhile), and not handed out before by this process.
 */
export async function freePort(): Promise<number> {
  const low = Math.max(1024, EPHEMERAL_LOW - 12_000);
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (EPHEMERAL_LOW - low));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  // A crowded range: fall back to the OS's pick.
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Exchange {
  data: Buffer;
  /** How it ended: "end" (the peer's FIN), "close", an error code, "bytes" (enough came) or "timeout". */
  how: string;
  /** Milliseconds from connecting to the end. */
  ms: number;
}

/**
 * Connects to 127.0.0.1:`port` (over TLS with `tls`, any certificate accepted, HTTP/1.1 by ALPN),
 * sends `payload`, half-closes (unless `halfClose: false`), and collects what comes back until
 * the other side ends the connection, `bytes` arrived, `until` says enough came, or `timeoutMs`
 * (default 5 s) passed.
 */
export function exchange(
  port: number,
  payload: Buffer | string,
  opts: {
    halfClose?: boolean;
    timeoutMs?: number;
    /** resolve once this many bytes arrived */
    bytes?: number;
    /** resolve ("bytes") once this returns true for everything received so far */
    until?: (data: Buffer) => boolean;
    /** TLS with this SNI ("" sends none) */
    tls?: { servername: string };
  } = {},
): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const start = Date.now();
    const sock = opts.tls
      ? tlsConnect({
          host: "127.0.0.1",
          port,
          rejectUnauthorized: false,
          ALPNProtocols: ["http/1.1"],
          ...(opts.tls.servername ? { servername: opts.tls.servername } : {}),
        })
      : connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const done = (how: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), how, ms: Date.now() - start });
    };
    const timer = setTimeout(() => done("timeout"), opts.timeoutMs ?? 5_000);
    sock.on(opts.tls ? "secureConnect" : "connect", () => {
      sock.write(payload);
      if (opts.halfClose !== false) sock.end();
    });
    let received = 0;
    sock.on("data", (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      if (opts.bytes !== undefined && received >= opts.bytes) done("bytes");
      else if (opts.until?.(Buffer.concat(chunks))) done("bytes");
    });
    sock.on("end", () => done("end"));
    sock.on("error", (e: NodeJS.ErrnoException) => done(e.code ?? "error"));
    sock.on("close", () => done("close"));
  });
}

/**
 * The TCP ports process `pid` listens on (IPv4 and IPv6), read from /proc: the sockets among its
 * file descriptors that /proc/net/tcp{,6} lists in state LISTEN. Linux only.
 */
export function listeningPorts(pid: number): number[] {
  return [...new Set(listeningSockets(pid).keys())].sort((a, b) => a - b);
}

/**
 * Port → inode of the listening socket, for process `pid`: the same inode after a reload means
 * the same socket (never closed and bound again).
 */
export function listeningSockets(pid: number): Map<number, string> {
  return new Map(listening(pid));
}

/** Every listening socket of `pid` on `port` (more than one: bound with SO_REUSEPORT). */
export function listeningOn(pid: number, port: number): string[] {
  return listening(pid)
    .filter(([p]) => p === port)
    .map(([, inode]) => inode);
}

/** [port, inode] of each listening TCP socket the process holds. */
function listening(pid: number): [number, string][] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed while we looked
    }
  }
  const sockets: [number, string][] = [];
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT, st 0A is LISTEN, inode is the tenth column.
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9]!))
        sockets.push([parseInt(f[1]!.split(":")[1]!, 16), f[9]!]);
    }
  }
  return sockets;
}
