// Reads what `-c` and `--credentials` name from the disk, for config (src/config/), which works on
// text only: folders expanded to their .yaml files, the files read, credential folders looked
// into. Every problem still becomes part of one ConfigError, with the file it is about.

import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config/model.ts";
import {
  composeConfigSliced,
  type CredentialFiles,
  type SourceOptions,
  type SourceText,
} from "../config/sources/compose.ts";
import { parseYamlSliced, YamlReuse } from "../config/yaml-documents.ts";
import { type ConfigIssue, unreadableFile } from "../util/errors.ts";
import { listDir, probe, readText } from "../util/file-reads.ts";

export interface ConfigFileOptions extends Omit<SourceOptions, "credentialFolders"> {
  /** `--credentials DIR`: folders `DIR/<credentialName>/{tls.crt,tls.key[,ca.crt]}`. */
  credentialDirs?: string[];
}

/**
 * The last Config composed, and everything it was composed from: the files' text, the options,
 * what the credential folders held, the warnings. Parsing and checking the YAML is the one long
 * piece of work a load cannot await through (seconds with 10,000 hosts): a reload whose files
 * all read the same reuses the Config instead (provisioning still runs, so certificates and key
 * files are judged again).
 */
export class ComposeCache {
  last?: {
    key: string;
    texts: SourceText[];
    config: Config;
    /** Each credential folder looked for, and what was found. */
    found: Map<string, string>;
    warnings: ConfigIssue[];
  };
  /** Each file's top-level entries from its last parse, composed again only when they changed. */
  readonly yaml = new Map<string, YamlReuse>();
}

/** Reads every `-c` path (a file, or a folder of .yaml files) into one Config. */
export async function loadSources(
  paths: string[],
  opts: ConfigFileOptions = {},
  cache?: ComposeCache,
): Promise<Config> {
  const { credentialDirs, warn, ...rest } = opts;
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
  const key = JSON.stringify([
    files,
    [...(rest.services ?? [])],
    [...(rest.portMap ?? [])],
    rest.bindAddress,
    dirs,
  ]);
  const last = cache?.last;
  // The same text and options; the folders still hold what they held (asked again, so the
  // watcher records the same probes as a full load would).
  if (last && issues.length === 0 && last.key === key && sameTexts(last.texts, texts)) {
    const still = [...last.found].every(([name, was]) => JSON.stringify(findCredential(dirs, name)) === was);
    if (still) {
      for (const w of last.warnings) warn?.(w);
      return last.config;
    }
  }
  const found = new Map<string, string>();
  const warnings: ConfigIssue[] = [];
  const find = (name: string) => {
    const files = findCredential(dirs, name);
    found.set(name, JSON.stringify(files));
    return files;
  };
  // Parsed in slices: on a reload, requests keep being served while a large file is parsed.
  const reuse = (file: string) => {
    if (!cache) return undefined;
    const r = cache.yaml.get(file) ?? new YamlReuse();
    cache.yaml.set(file, r);
    return r;
  };
  const parsed = await Promise.all(
    texts.map(async (t) => ({ ...t, parsed: await parseYamlSliced(t.text, reuse(t.file)) })),
  );
  if (cache) for (const file of cache.yaml.keys()) if (!files.includes(file)) cache.yaml.delete(file);
  const config = await composeConfigSliced(
    files,
    parsed,
    {
      ...rest,
      credentialFolders: { dirs, find },
      warn: (w) => {
        warnings.push(w);
        warn?.(w);
      },
    },
    issues,
  );
  if (cache) cache.last = { key, texts, config, found, warnings };
  return config;
}

function sameTexts(a: SourceText[], b: SourceText[]): boolean {
  return a.length === b.length && a.every((t, i) => t.file === b[i]!.file && t.text === b[i]!.text);
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
