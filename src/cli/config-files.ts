// Reads what `-c` and `--credentials` name from the disk, for config (src/config/), which works on
// text only: folders expanded to their .yaml files, the files read, credential folders looked
// into. Every problem still becomes part of one ConfigError, with the file it is about.

import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config/model.ts";
import {
  composeConfig,
  type CredentialFiles,
  type SourceOptions,
  type SourceText,
} from "../config/sources/compose.ts";
import { type ConfigIssue, unreadableFile } from "../util/errors.ts";
import { listDir, probe, readText } from "../util/file-reads.ts";

export interface ConfigFileOptions extends Omit<SourceOptions, "credentialFolders"> {
  /** `--credentials DIR`: folders `DIR/<credentialName>/{tls.crt,tls.key[,ca.crt]}`. */
  credentialDirs?: string[];
}

/** Reads every `-c` path (a file, or a folder of .yaml files) into one Config. */
export async function loadSources(paths: string[], opts: ConfigFileOptions = {}): Promise<Config> {
  const { credentialDirs, ...rest } = opts;
  const issues: ConfigIssue[] = [];
  const files = await expand(paths, issues);
  const texts: SourceText[] = [];
  for (const file of files) {
    try {
      texts.push({ file, text: await readText(file) });
    } catch (err) {
      issues.push(unreadableFile(file, err));
    }
  }
  const dirs = (credentialDirs ?? []).map((d) => resolve(d));
  const credentialFolders = { dirs, find: (name: string) => findCredential(dirs, name) };
  return composeConfig(files, texts, { ...rest, credentialFolders }, issues);
}

async function expand(paths: string[], issues: ConfigIssue[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      probe(p); // a -c path that appears later is a change
      issues.push(unreadableFile(p, err));
      continue;
    }
    if (!isDir) out.push(p);
    else out.push(...(await listDir(p, /\.ya?ml$/)).map((f) => join(p, f)));
  }
  return out;
}

/**
 * The first `DIR/<name>` with a tls.crt; the CA from its ca.crt or from Istio's `<name>-cacert`
 * folder beside it.
 */
function findCredential(dirs: string[], name: string): CredentialFiles | undefined {
  for (const dir of dirs) {
    const folder = join(dir, name);
    if (!probe(join(folder, "tls.crt"))) continue;
    const caFolder = join(dir, `${name}-cacert`);
    const cas = [join(folder, "ca.crt"), join(caFolder, "ca.crt"), join(caFolder, "cacert")];
    const ca = cas.find((f) => probe(f));
    return { cert: join(folder, "tls.crt"), key: join(folder, "tls.key"), ...(ca ? { ca } : {}) };
  }
  return undefined;
}
