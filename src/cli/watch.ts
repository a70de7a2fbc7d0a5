// Watches every file the running configuration was loaded from (src/util/file-reads.ts records
// them) and reloads when one of them holds something else than what was loaded.
//
// Folders are watched, not files: an editor that saves by writing a temporary file and renaming
// it over the original, a file deleted and created again, and Kubernetes' update of a mounted
// ConfigMap or Secret (a new `..2026_…` folder, then a `..data` symlink renamed over the old one,
// while `tls.crt -> ..data/tls.crt` stays) all replace the inode a file watch would hold, but
// each is an event in the folder. node:fs `watch` on a folder reports these renames on Bun, Deno
// and Node alike (inotify on Linux; checked on each). Events only say "look again": after
// DEBOUNCE_MS without a further event, every recorded path is digested again, so a touch, or a
// save of the same bytes, reloads nothing. A slow poll does the same check, for file systems
// that report no events (network mounts, some container overlays).

import { existsSync, type FSWatcher, watch } from "node:fs";
import { dirname } from "node:path";
import { type FileReads, firstChange } from "../util/file-reads.ts";
import { log } from "./log.ts";
import type { Reloader } from "./reload.ts";

/** Quiet time after the last event before looking: a burst of renames (editor, kubelet) is one change. */
export const DEBOUNCE_MS = 300;
/** The safety-net poll. */
export const POLL_MS = 5_000;

export interface WatchOptions {
  debounceMs?: number;
  pollMs?: number;
}

export interface FileWatcher {
  close(): void;
}

/**
 * Calls `reload(path)` when a path of `reads()` changed; waits for it before looking again (it
 * gives new reads), and looks again once more if events came meanwhile.
 */
export function watchFiles(
  reads: () => FileReads,
  reload: (changed: string) => Promise<unknown>,
  opts: WatchOptions = {},
): FileWatcher {
  const debounceMs = opts.debounceMs ?? DEBOUNCE_MS;
  let watchers = new Map<string, FSWatcher>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let busy = false;
  let again = false;
  let closed = false;

  const arm = () => {
    const wanted = foldersToWatch(reads());
    for (const [dir, w] of watchers) if (!wanted.has(dir)) w.close();
    const next = new Map<string, FSWatcher>();
    for (const dir of wanted) {
      const w = watchers.get(dir) ?? open(dir);
      if (w) next.set(dir, w);
    }
    watchers = next;
  };
  const open = (dir: string): FSWatcher | undefined => {
    try {
      const w = watch(dir, { persistent: false }, schedule);
      // A folder that goes away ends its watch; the poll and the next re-arm cover it.
      w.on("error", () => {
        w.close();
        watchers.delete(dir);
      });
      return w;
    } catch {
      return undefined; // not there (yet): the nearest existing parent is watched too
    }
  };
  function schedule() {
    if (closed) return;
    if (busy) {
      again = true;
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(check, debounceMs);
  }
  const check = async () => {
    if (closed || busy) return;
    busy = true;
    try {
      const changed = await firstChange(reads());
      // Unchanged: only arm() below, so that a missing folder that now exists gets its own watch.
      if (changed !== undefined && !closed) await reload(changed);
    } finally {
      busy = false;
      if (!closed) {
        arm();
        if (again) {
          again = false;
          schedule();
        }
      }
    }
  };

  arm();
  const poll = setInterval(() => void check(), opts.pollMs ?? POLL_MS);
  poll.unref?.();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/**
 * Reloads through `reloader` when a file it loaded changes, while `wanted()` (--watch,
 * settings.watch) says so; asked again after each applied reload.
 */
export function watchWhileWanted(
  reloader: Reloader,
  wanted: () => boolean,
  opts?: WatchOptions,
): FileWatcher {
  let current: FileWatcher | undefined;
  let closed = false;
  const follow = () => {
    if (closed) return;
    const want = wanted();
    if (want && !current) {
      current = watchFiles(
        () => reloader.reads,
        (changed) => reloader.reload("watch", changed),
        opts,
      );
      log.info(`watching ${reloader.reads.paths.size} files for changes (--watch=false turns it off)`);
    } else if (!want && current) {
      current.close();
      current = undefined;
      log.info("no longer watching files for changes (settings.watch: false)");
    }
  };
  follow();
  reloader.onReloaded((result) => result.ok && follow());
  return {
    close() {
      closed = true;
      current?.close();
    },
  };
}

/**
 * The folder of every recorded path (and a listed folder itself), plus their existing ancestors
 * up to the first that exists, so that a folder created later is seen being created.
 */
export function foldersToWatch(reads: FileReads): Set<string> {
  const out = new Set<string>();
  for (const [path, r] of reads.paths) {
    if (r.kind === "dir") out.add(path);
    let dir = dirname(path);
    out.add(dir);
    // A missing folder cannot be watched: its parent sees it appear.
    while (r.digest === "absent" || r.digest === "no") {
      const up = dirname(dir);
      if (up === dir) break;
      if (existsSync(dir)) break;
      dir = up;
      out.add(dir);
    }
  }
  return out;
}
