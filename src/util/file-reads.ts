// The files a configuration load consulted, each with a digest of what the load found there, so
// that the watcher (src/cli/watch.ts) knows what to watch and can tell a real change from a
// touch, an editor's rename-write of the same bytes, or a Kubernetes `..data` swap to identical
// content. Readers in config/ and provision/ call these functions instead of node:fs; inside
// `recordReads` they note the path and digest, outside they only read. One mechanism for every
// file read, instead of a list of config fields that name files kept in step by hand.
//
// AsyncLocalStorage carries the recorder through the awaits of a load (checked on Bun, Deno and
// Node), so no signature between the CLI and the readers has to pass it along.

import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, readdir, stat } from "node:fs/promises";
import { resolve } from "node:path";

/** How a path was consulted: its content read, its listing read, or only its existence probed. */
export type ReadKind = "file" | "dir" | "probe";

export interface FileRead {
  kind: ReadKind;
  /** sha256 of the bytes, of the sorted listing, or "yes"/"no" for a probe; "absent" when unreadable. */
  digest: string;
  /** "dir": the names that count (an editor's swap file beside routes.yaml is no change). */
  names?: RegExp;
}

/** Absolute path → what a load found there. A file read wins over a probe of the same path. */
export class FileReads {
  readonly paths = new Map<string, FileRead>();

  note(path: string, kind: ReadKind, digest: string, names?: RegExp): void {
    const abs = resolve(path);
    const before = this.paths.get(abs);
    if (before && before.kind !== "probe" && kind === "probe") return;
    this.paths.set(abs, names ? { kind, digest, names } : { kind, digest });
  }

  /** The paths of both (a refused reload keeps watching what the running config came from). */
  union(other: FileReads): FileReads {
    const out = new FileReads();
    for (const [p, r] of other.paths) out.paths.set(p, r);
    for (const [p, r] of this.paths) out.paths.set(p, r);
    return out;
  }
}

const recorder = new AsyncLocalStorage<FileReads>();

/** Runs `fn` with every read through this module noted in `reads`. */
export function recordReads<T>(reads: FileReads, fn: () => Promise<T>): Promise<T> {
  return recorder.run(reads, fn);
}

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");
const ABSENT = "absent";

export async function readBytes(path: string): Promise<Buffer> {
  try {
    const bytes = await readFile(path);
    recorder.getStore()?.note(path, "file", sha256(bytes));
    return bytes;
  } catch (err) {
    recorder.getStore()?.note(path, "file", ABSENT);
    throw err;
  }
}

export async function readText(path: string): Promise<string> {
  return (await readBytes(path)).toString("utf8");
}

/** A folder's entries matching `names`, sorted (digested: a file added or removed is a change). */
export async function listDir(path: string, names: RegExp): Promise<string[]> {
  try {
    const found = (await readdir(path)).filter((n) => names.test(n)).sort();
    recorder.getStore()?.note(path, "dir", sha256(found.join("\n")), names);
    return found;
  } catch (err) {
    recorder.getStore()?.note(path, "dir", ABSENT, names);
    throw err;
  }
}

/** existsSync, noted: a credential folder or an optional ca.crt that appears later is a change. */
export function probe(path: string): boolean {
  const yes = existsSync(path);
  recorder.getStore()?.note(path, "probe", yes ? "yes" : "no");
  return yes;
}

/**
 * What `path` holds now, digested as it was when it was recorded. Symlinks are followed.
 * Asynchronous, so that the watcher's poll over thousands of certificate files never holds the
 * event loop.
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

/** The first recorded path whose content is no longer what the load read, or undefined. */
export async function firstChange(reads: FileReads): Promise<string | undefined> {
  for (const [path, r] of reads.paths) if ((await digestNow(path, r)) !== r.digest) return path;
  return undefined;
}
