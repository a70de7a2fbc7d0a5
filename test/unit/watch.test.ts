// The file watcher on real folders: which changes reload, how many times, and which do not.
import { afterEach, describe, expect, test } from "bun:test";
import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { watchFiles, type FileWatcher } from "../../src/cli/watch.ts";
import { FileReads, firstChange, listDir, probe, readText, recordReads } from "../../src/util/file-reads.ts";
import { sleep } from "../helpers/net.ts";

const DEBOUNCE = 60;
let watcher: FileWatcher | undefined;
afterEach(() => watcher?.close());

/** Records reading `files`, then watches them; each reload reads them again (as a load would). */
async function watching(files: string[], probes: string[] = []) {
  const reloads: string[] = [];
  let reads = new FileReads();
  const load = async () => {
    const next = new FileReads();
    await recordReads(next, async () => {
      for (const f of files) await readText(f).catch(() => undefined);
      for (const p of probes) probe(p);
    });
    reads = next;
  };
  await load();
  watcher = watchFiles(
    () => reads,
    async (changed) => {
      reloads.push(changed);
      await load();
    },
    { debounceMs: DEBOUNCE, pollMs: 60_000 },
  );
  return reloads;
}

/** Waits (bounded) until `n` reloads happened, then a little longer to see that no more come. */
async function settled(reloads: string[], n: number): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (reloads.length < n && Date.now() < deadline) await sleep(20);
  await sleep(DEBOUNCE * 3);
}

const tmp = () => mkdtempSync(join(tmpdir(), "portico-watch-"));

describe("watchFiles", () => {
  test("a burst of writes is one reload, after the quiet time", async () => {
    const dir = tmp();
    const f = join(dir, "routes.yaml");
    writeFileSync(f, "a");
    const reloads = await watching([f]);
    const start = Date.now();
    for (let i = 0; i < 5; i++) {
      writeFileSync(f, `b${i}`);
      await sleep(30);
    }
    await settled(reloads, 1);
    expect(reloads).toEqual([f]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(DEBOUNCE);
  });

  test("a touch, or the same bytes written again, reloads nothing", async () => {
    const dir = tmp();
    const f = join(dir, "routes.yaml");
    writeFileSync(f, "same");
    const reloads = await watching([f]);
    utimesSync(f, new Date(), new Date());
    writeFileSync(f, "same");
    writeFileSync(join(dir, ".x.swp"), "editor noise");
    await sleep(DEBOUNCE * 4);
    expect(reloads).toEqual([]);
  });

  test("an editor's write to a temporary file renamed over the original reloads, twice in a row", async () => {
    const dir = tmp();
    const f = join(dir, "routes.yaml");
    writeFileSync(f, "one");
    const reloads = await watching([f]);
    for (const text of ["two", "three"]) {
      writeFileSync(join(dir, ".routes.yaml.tmp"), text);
      renameSync(join(dir, ".routes.yaml.tmp"), f);
      await settled(reloads, text === "two" ? 1 : 2);
    }
    expect(reloads).toEqual([f, f]);
  });

  test("a file deleted and created again reloads once it is back", async () => {
    const dir = tmp();
    const f = join(dir, "routes.yaml");
    writeFileSync(f, "one");
    const reloads = await watching([f]);
    unlinkSync(f);
    await settled(reloads, 1);
    writeFileSync(f, "two");
    await settled(reloads, 2);
    expect(reloads).toEqual([f, f]);
  });

  test("Kubernetes' ..data symlink swap reloads; the swap to identical content does not", async () => {
    const root = tmp();
    const dir = join(root, "cred");
    mkdirSync(join(dir, "..2026_11_30_a"), { recursive: true });
    writeFileSync(join(dir, "..2026_11_30_a/tls.crt"), "cert-a");
    symlinkSync("..2026_11_30_a", join(dir, "..data"));
    symlinkSync("..data/tls.crt", join(dir, "tls.crt"));
    const crt = join(dir, "tls.crt");
    const swap = (name: string, content: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, "tls.crt"), content);
      symlinkSync(name, join(dir, "..data_tmp"));
      renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    };
    const reloads = await watching([crt]);
    swap("..2026_11_30_b", "cert-a");
    await sleep(DEBOUNCE * 4);
    expect(reloads).toEqual([]);
    swap("..2026_11_30_c", "cert-c");
    await settled(reloads, 1);
    expect(reloads).toEqual([crt]);
  });

  test("a credential folder that appears later (a probed path) is a change", async () => {
    const root = tmp();
    const probed = join(root, "certs", "new", "tls.crt");
    const reloads = await watching([], [probed]);
    mkdirSync(join(root, "certs", "new"), { recursive: true });
    writeFileSync(probed, "x");
    await settled(reloads, 1);
    expect(reloads).toEqual([probed]);
  });
});

describe("FileReads", () => {
  test("records through awaits, and firstChange sees an edit", async () => {
    const dir = tmp();
    const f = join(dir, "a.yaml");
    writeFileSync(f, "1");
    const reads = new FileReads();
    await recordReads(reads, async () => {
      await sleep(1);
      await readText(f);
    });
    expect([...reads.paths.keys()]).toEqual([f]);
    expect(await firstChange(reads)).toBeUndefined();
    writeFileSync(f, "2");
    expect(await firstChange(reads)).toBe(f);
    rmSync(dir, { recursive: true });
  });
});

test("a missing folder created in two steps is watched once it exists", async () => {
  const root = tmp();
  const probed = join(root, "certs", "new", "tls.crt");
  const reloads = await watching([], [probed]);
  mkdirSync(join(root, "certs"));
  await sleep(DEBOUNCE * 3);
  mkdirSync(join(root, "certs", "new"));
  await sleep(DEBOUNCE * 3);
  writeFileSync(probed, "x");
  await settled(reloads, 1);
  expect(reloads).toEqual([probed]);
});

test("a -c folder: a new .yaml file is a change, an editor's swap file beside it is not", async () => {
  const dir = tmp();
  writeFileSync(join(dir, "a.yaml"), "a");
  const reloads: string[] = [];
  let reads = new FileReads();
  const load = async () => {
    reads = new FileReads();
    await recordReads(reads, () => listDir(dir, /\.ya?ml$/));
  };
  await load();
  watcher = watchFiles(
    () => reads,
    async (changed) => {
      reloads.push(changed);
      await load();
    },
    { debounceMs: DEBOUNCE, pollMs: 60_000 },
  );
  writeFileSync(join(dir, ".a.yaml.swp"), "vim");
  await sleep(DEBOUNCE * 4);
  expect(reloads).toEqual([]);
  writeFileSync(join(dir, "b.yml"), "b");
  await settled(reloads, 1);
  expect(reloads).toEqual([dir]);
});
