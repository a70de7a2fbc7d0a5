// The files a configuration load consulted, each with a digest of what the load found there, so
// that the watcher (src/cli/watch.ts) knows what to watch and can tell a real change from a
// touch, an editor's rename-write of the same bytes, or a Kubernetes `..data` swap to identical
// content. Readers in config/ and provision/ call these functions instead of node:fs; inside
// `recordReads` they note the path and digest, outside they only read. One mechanism for every
// file read, instead of a list of config fields that name files kept in step by hand.
//
// AsyncLocalStorage carries the recorder through the awaits of a load (checked on Bun, Deno and
// Node), so no signature between the CLI and the readers has to pass it along.
//
// A reload of 10,000 hosts reads 20,000 certificate and key files; with a `FileMemo` a file whose
// metadata says it is untouched since the last load is neither read nor hashed again
// (docs/architecture.md, "Reload").

import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { type BigIntStats, existsSync, readFileSync, statSync } from "node:fs";
import { readFile, readdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { Slices } from "./slices.ts";

/** How a path was consulted: its content read, its listing read, or only its existence probed. */
export type ReadKind = "file" | "dir" | "probe";

export interface FileRead {
  kind: ReadKind;
  /** sha256 of the bytes, of the sorted listing, or "yes"/"no" for a probe; "absent" when unreadable. */
  digest: string;
  /** "dir": the names that count (an editor's swap file beside routes.yaml is no change). */
  names?: RegExp;
  /**
   * "file": its metadata when it was read, when that read was settled (`SETTLE_MS`): the same
   * stamp later means the same bytes, and the watcher need not read it to know.
   */
  stamp?: Stamp;
}

/** Absolute path → what a load found there. A file read wins over a probe of the same path. */
export class FileReads {
  readonly paths = new Map<string, FileRead>();

  note(path: string, kind: ReadKind, digest: string, names?: RegExp): void {
    this.noteAt(resolve(path), names ? { kind, digest, names } : { kind, digest });
  }

  /** `note` for an absolute path already resolved. */
  noteAt(abs: string, read: FileRead): void {
    const before = this.paths.get(abs);
    if (before && before.kind !== "probe" && read.kind === "probe") return;
    this.paths.set(abs, read);
  }

  /** The paths of both (a refused reload keeps watching what the running config came from). */
  union(other: FileReads): FileReads {
    const out = new FileReads();
    for (const [p, r] of other.paths) out.paths.set(p, r);
    for (const [p, r] of this.paths) out.paths.set(p, r);
    return out;
  }
}

/**
 * What a file held when a load read it, kept for the next load. Trusted only while the file's
 * identity and metadata are those it had then, and only if they were already `SETTLE_MS` old
 * when it was read: a write in the same timestamp tick as that read could leave them unchanged.
 */
interface Known {
  stamp: Stamp;
  digest: string;
  /** As it was asked for: text (certificates, YAML) or bytes (CRLs). */
  value: string | Buffer;
}

/**
 * Files read by the last load, by absolute path, so that the next load reads again only the files
 * whose metadata changed. Like CredentialCache, entries the next load did not use are dropped
 * (`sweep`), so files no longer named do not pile up.
 */
export class FileMemo {
  private last = new Map<string, Known>();
  private next = new Map<string, Known>();
  /** Files found unchanged (not read) and files read, since the last sweep. */
  reused = 0;
  read = 0;

  /** `settleMs`: SETTLE_MS; a test may ask for less. */
  constructor(readonly settleMs = SETTLE_MS) {}

  /** What `abs` held, if its metadata is still as `now` says and it was read `as` asked now. */
  get(abs: string, now: BigIntStats, as: "text" | "bytes"): Known | undefined {
    const hit = this.next.get(abs) ?? this.last.get(abs);
    if (hit === undefined || !sameStamp(hit.stamp, now)) return undefined;
    if (typeof hit.value !== (as === "text" ? "string" : "object")) return undefined;
    this.next.set(abs, hit);
    this.reused++;
    return hit;
  }

  set(abs: string, known: Known): void {
    this.next.set(abs, known);
  }

  /** The counts of the last load, as `sweep` ended it. */
  lastLoad = { read: 0, reused: 0 };

  /** Ends a load: files it did not read are forgotten. */
  sweep(): void {
    this.lastLoad = { read: this.read, reused: this.reused };
    this.last = this.next;
    this.next = new Map();
    this.reused = 0;
    this.read = 0;
  }
}

/**
 * How old a file's last change must be, when it is read, for its metadata to stand for its
 * content: a write within the same timestamp tick may leave mtime and size as they were. 2 s
 * covers the coarsest clocks in use (FAT's 2 s; Deno reports ctime in whole seconds and mtime in
 * milliseconds).
 */
export const SETTLE_MS = 2_000;

/**
 * A file's identity and metadata: device and inode (a Kubernetes `..data` swap or a rename-save
 * gives another inode; stat follows symlinks), size, and modification and change times in ns.
 */
export type Stamp = Pick<BigIntStats, "dev" | "ino" | "size" | "mtimeNs" | "ctimeNs">;

/** `s`'s stamp if its last change was at least `settleMs` before `readStartMs` (Date.now()). */
function settledStamp(s: BigIntStats, readStartMs: number, settleMs: number): Stamp | undefined {
  const changed = s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs;
  if (changed >= BigInt(readStartMs - settleMs) * 1_000_000n) return undefined;
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

const sameStamp = (a: Stamp, b: Stamp) =>
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs &&
  a.size === b.size &&
  a.ino === b.ino &&
  a.dev === b.dev;

/**
 * The stat of a regular file, or undefined (gone, not a file). Sync: an asynchronous stat costs
 * about 20 µs of CPU on Bun and Node against 3 µs (measured here), and a reload of 10,000 hosts
 * asks 20,000 of them; callers pause between files (util/slices.ts).
 */
function statFile(path: string): BigIntStats | undefined {
  try {
    const stats = statSync(path, { bigint: true });
    return stats.isFile() ? stats : undefined;
  } catch {
    return undefined;
  }
}

interface Recorder {
  reads: FileReads;
  memo?: FileMemo;
  /** Each file's permission bits, from the stat its read took (`fileMode`). */
  modes: Map<string, number>;
}

const recorder = new AsyncLocalStorage<Recorder>();

/**
 * Runs `fn` with every read through this module noted in `reads`; with `memo`, files unchanged
 * since the load that filled it are not read again (and `memo` is swept when `fn` ends).
 */
export async function recordReads<T>(reads: FileReads, fn: () => Promise<T>, memo?: FileMemo): Promise<T> {
  try {
    return await recorder.run({ reads, memo, modes: new Map() }, fn);
  } finally {
    memo?.sweep();
  }
}

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");
const ABSENT = "absent";

/**
 * A stat of `path` for the current load: its mode noted (`fileMode`), and what the memo knows of
 * it when its stamp is unchanged. Synchronous, so that an unchanged file costs no await.
 */
function recall(
  ctx: Recorder | undefined,
  abs: string,
  as: "text" | "bytes",
): { stats?: BigIntStats; known?: Known } {
  if (ctx === undefined) return {};
  const stats = statFile(abs);
  if (stats === undefined) return {};
  ctx.modes.set(abs, Number(stats.mode));
  const known = ctx.memo?.get(abs, stats, as);
  if (known) ctx.reads.noteAt(abs, { kind: "file", digest: known.digest, stamp: known.stamp });
  return { stats, known };
}

/** The file's content as `as`, from the memo when its settled stamp is the one it was read with. */
function readKnown(path: string, as: "text" | "bytes"): Promise<string | Buffer> {
  const ctx = recorder.getStore();
  const abs = resolve(path);
  // The stat is taken before the read: a write between them changes what the next stat sees.
  const startMs = Date.now();
  const { stats, known } = recall(ctx, abs, as);
  return known ? Promise.resolve(known.value) : readAgain(ctx, path, abs, as, stats, startMs);
}

async function readAgain(
  ctx: Recorder | undefined,
  path: string,
  abs: string,
  as: "text" | "bytes",
  stats: BigIntStats | undefined,
  startMs: number,
): Promise<string | Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    ctx?.reads.noteAt(abs, { kind: "file", digest: ABSENT });
    throw err;
  }
  return noteRead(ctx, abs, bytes, as, stats, startMs);
}

/** What a read found, noted for the watcher and kept in the memo; the content as `as`. */
function noteRead(
  ctx: Recorder | undefined,
  abs: string,
  bytes: Buffer,
  as: "text" | "bytes",
  stats: BigIntStats | undefined,
  startMs: number,
): string | Buffer {
  const digest = sha256(bytes);
  const value = as === "text" ? bytes.toString("utf8") : bytes;
  const stamp = stats && settledStamp(stats, startMs, ctx?.memo?.settleMs ?? SETTLE_MS);
  ctx?.reads.noteAt(abs, stamp ? { kind: "file", digest, stamp } : { kind: "file", digest });
  if (ctx?.memo) ctx.memo.read++;
  if (stamp) ctx?.memo?.set(abs, { stamp, digest, value });
  return value;
}

/**
 * readText, synchronously: for the small files a load reads by the thousand (certificates and
 * keys), between which its loop pauses (util/slices.ts). An asynchronous read cost about 34 µs
 * of CPU on Bun against 12 µs, and a promise chain per credential besides (measured here,
 * docs/architecture.md, "Startup"); the stat before it was synchronous already.
 */
export function readTextNow(path: string): string {
  const ctx = recorder.getStore();
  const abs = resolve(path);
  const startMs = Date.now();
  const { stats, known } = recall(ctx, abs, "text");
  if (known) return known.value as string;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    ctx?.reads.noteAt(abs, { kind: "file", digest: ABSENT });
    throw err;
  }
  return noteRead(ctx, abs, bytes, "text", stats, startMs) as string;
}

/**
 * The permission bits of `path`: as the read of it in this load saw them, or from a stat now.
 * Undefined when it cannot be stat'ed.
 */
export function fileMode(path: string): number | undefined {
  const seen = seenMode(path);
  if (seen !== undefined) return seen;
  try {
    return statSync(path).mode;
  } catch {
    return undefined;
  }
}

/** The permission bits the read of `path` in this load saw (fileMode without a stat). */
function seenMode(path: string): number | undefined {
  return recorder.getStore()?.modes.get(resolve(path));
}

export function readBytes(path: string): Promise<Buffer> {
  return readKnown(path, "bytes") as Promise<Buffer>;
}

export function readText(path: string): Promise<string> {
  return readKnown(path, "text") as Promise<string>;
}

/** A folder's entries matching `names`, sorted (digested: a file added or removed is a change). */
export async function listDir(path: string, names: RegExp): Promise<string[]> {
  try {
    const found = (await readdir(path)).filter((n) => names.test(n)).sort();
    recorder.getStore()?.reads.note(path, "dir", sha256(found.join("\n")), names);
    return found;
  } catch (err) {
    recorder.getStore()?.reads.note(path, "dir", ABSENT, names);
    throw err;
  }
}

/** existsSync, noted: a credential folder or an optional ca.crt that appears later is a change. */
export function probe(path: string): boolean {
  const yes = existsSync(path);
  recorder.getStore()?.reads.note(path, "probe", yes ? "yes" : "no");
  return yes;
}

/**
 * What `path` holds now, digested as it was when it was recorded. Symlinks are followed.
 * Asynchronous, so that the watcher's poll over thousands of certificate files never holds the
 * event loop. (firstChange has already asked whether a settled stamp still holds.)
 */
export async function digestNow(path: string, { kind, names }: FileRead): Promise<string> {
  try {
    if (kind === "probe") return (await exists(path)) ? "yes" : "no";
    if (kind === "dir")
      return sha256(
        (await readdir(path))
          .filter((n) => names?.test(n) ?? true)
          .sort()
          .join("\n"),
      );
    if (!(await stat(path)).isFile()) return ABSENT;
    return sha256(await readFile(path));
  } catch {
    return ABSENT;
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * The first recorded path whose content is no longer what the load read, or undefined. A file
 * whose settled stamp is still the one it was read with is not read again.
 */
export async function firstChange(reads: FileReads): Promise<string | undefined> {
  // Unchanged files cost a stat each, without an await of their own: pause between slices.
  const slices = new Slices();
  for (const [path, r] of reads.paths) {
    if (!stampStill(path, r) && (await digestNow(path, r)) !== r.digest) return path;
    const wait = slices.pause();
    if (wait) await wait;
  }
  return undefined;
}

/** A file read with a settled stamp whose stamp is still the same: its content is what was read. */
function stampStill(path: string, { kind, stamp }: FileRead): boolean {
  if (kind !== "file" || stamp === undefined) return false;
  const stats = statFile(path);
  return stats !== undefined && sameStamp(stamp, stats);
}
