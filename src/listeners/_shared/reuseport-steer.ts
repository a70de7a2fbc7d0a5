// Sending every new connection on a port to the newest of two SO_REUSEPORT listening sockets
// (Linux), for bun-serve's certificate swap. When a socket of a reuseport group closes, Linux
// resets the connections still in its accept queue or half-open (unless the administrator set
// net.ipv4.tcp_migrate_req=1, Linux 5.14+; ip-sysctl.rst), so the old Bun.serve must stop
// receiving new connections before it closes. A classic BPF program attached to the group with
// SO_ATTACH_REUSEPORT_CBPF chooses the socket by its index in the group, which is the order in
// which the sockets joined: "return 1" picks the second, the new one; an index past the group's
// end falls back to the kernel's hash (socket(7), filter.c's run_bpf_filter). Bun has no
// setsockopt of its own, so it is libc's through bun:ffi, reached with process.getBuiltinModule
// so that Deno, Node and bundles never see the module.

import type * as BunFfi from "bun:ffi";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const SOL_SOCKET = 1;
const SO_ATTACH_REUSEPORT_CBPF = 51;
const SO_DETACH_REUSEPORT_BPF = 68;
/** BPF_RET | BPF_K: the instruction that returns its constant. */
const BPF_RET_K = 0x06;

export interface Steering {
  /** Back to the kernel's hash (call it once the old socket has closed). */
  release(): void;
}

type SetSockOpt = (fd: number, level: number, name: number, value: BunFfi.Pointer, len: number) => number;
let libc: { setsockopt: SetSockOpt; ptr: typeof BunFfi.ptr } | null | undefined;

function loadLibc(): typeof libc {
  if (libc !== undefined) return libc;
  try {
    const ffi = process.getBuiltinModule("bun:ffi") as typeof BunFfi;
    const { symbols } = ffi.dlopen("libc.so.6", {
      setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
    });
    libc = { setsockopt: symbols.setsockopt as SetSockOpt, ptr: ffi.ptr };
  } catch {
    // Not glibc (musl names its libc otherwise) or no bun:ffi: no steering.
    libc = null;
  }
  return libc;
}

/**
 * Steers new connections on `port` to the socket that joined its group second, when the group is
 * exactly two listening sockets, both this process's (anything else, e.g. workers sharing the
 * port, and nothing is changed). Undefined: not steered.
 */
export function steerToNewest(port: number): Steering | undefined {
  if (process.platform !== "linux") return undefined;
  const fds = ownListeners(port);
  const c = fds && fds.length === 2 ? loadLibc() : undefined;
  if (!c || !fds) return undefined;
  // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k } = { RET, 0, 0, 1 }
  const insn = new Uint8Array(8);
  const view = new DataView(insn.buffer);
  view.setUint16(0, BPF_RET_K, true);
  view.setUint32(4, 1, true);
  // struct sock_fprog { u16 len; struct sock_filter *filter } (64-bit: the pointer at offset 8)
  const prog = new BigUint64Array([1n, BigInt(c.ptr(insn))]);
  if (c.setsockopt(fds[0]!, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, c.ptr(prog), 16) !== 0) return undefined;
  return {
    release: () => {
      const one = new Int32Array([1]);
      // On whichever is still open; a program left behind returns an index past the group's end
      // once one socket is left, which is the kernel's hash anyway.
      for (const fd of fds)
        if (c.setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, c.ptr(one), 4) === 0) break;
    },
  };
}

/** This process's file descriptors of the listening TCP sockets on `port`, if it holds all of them. */
function ownListeners(port: number): number[] | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT, st 0A is LISTEN, inode is the tenth column (proc_net_tcp.rst).
      if (f.length > 9 && f[3] === "0A" && parseInt(f[1]!.split(":")[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  const fds: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${name}`));
      if (m && inodes.has(m[1]!)) fds.push(Number(name));
    } catch {
      // closed while we looked
    }
  }
  return fds.length === inodes.size ? fds : undefined;
}
