// `portico certs ...`: inspect certificates, keys, credential folders, Secrets and servers, and
// generate a development CA with server and client certificates. Parsing and generation are
// @peculiar/x509 and Web Crypto only (src/certs/), so this behaves the same on Bun, Deno, Node
// and in the compiled binary. The caller must have imported "reflect-metadata" first (main.ts).

import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LabeledCertificate } from "../certs/chain.ts";
import { ConnectError, fetchPeerChain } from "../certs/connect.ts";
import { describeCertificate } from "../certs/describe.ts";
import {
  DEFAULT_CA_DAYS,
  DEFAULT_LEAF_DAYS,
  GenerateError,
  generateCa,
  generateLeaf,
  loadSigningCa,
  type KeyKind,
} from "../certs/generate.ts";
import { inspectServer, inspectSource, type InspectReport } from "../certs/inspect.ts";
import { decodePart, readSource } from "../certs/read-source.ts";
import { opensslTime } from "../certs/openssl-text.ts";
import { renderText, reportJson } from "../certs/render.ts";
import { UsageError, cannotRead } from "../util/errors.ts";
import { flagsAndPositionals, parseFlags, type FlagSpec } from "./flags.ts";
import { AcmeStorage } from "../acme/storage.ts";

export const CERTS_USAGE = `portico certs — inspect and generate TLS certificates (no openssl needed)

Usage:
  portico certs inspect [--ca FILE] [--json] PATH...
  portico certs inspect --connect HOST:PORT [--servername NAME] [--cacert FILE] [--json]
  portico certs inspect --data DIR [--json]
  portico certs gen ca --out DIR [--name NAME] [--days N] [--rsa]
  portico certs gen server --ca DIR --out DIR [--days N] [--rsa] HOST...
  portico certs gen client --ca DIR --out DIR [--days N] [--rsa] NAME...

inspect
  PATH is a PEM or DER file (a certificate, a chain with the leaf first, a private key, or
  several of these), a credential folder (tls.crt, tls.key, ca.crt), a CA folder (ca.crt,
  ca.key) or a Kubernetes Secret YAML file (data: tls.crt, tls.key, ca.crt). For every
  certificate it prints subject, issuer, serial, validity and days left, SANs, key type and
  size, signature algorithm, key usage, extended key usage, basic constraints and SHA-1 and
  SHA-256 fingerprints, in openssl x509 -text's notation; whether each link of a chain
  verifies; and whether a private key matches its certificate.
  --ca FILE            the chain must end in FILE (a CA certificate or bundle; a folder means
                       its ca.crt)
  --connect HOST:PORT  inspect what a TLS server presents (port 443 when omitted)
  --servername NAME    with --connect: the SNI to send (default HOST, none for an IP address)
  --cacert FILE        with --connect: verify the presented chain against FILE (same as --ca)
  --data DIR           inspect every certificate Portico obtained by ACME into DIR (run's
                       --data), each with its names, CA, when it was obtained and any lock
  --json               print a JSON array, one object per PATH (or server)
  Exit status 0; 1 when a file cannot be read or parsed, a private key does not match its
  certificate, a chain does not verify or a server cannot be reached; 2 for a usage error.

gen
  ca                   DIR/ca.crt and DIR/ca.key: a CA for development (pathlen:0)
  server HOST...       DIR/tls.crt, DIR/tls.key and DIR/ca.crt: a credential folder for
                       routes.yaml (credentials: { NAME: DIR }). SANs are the HOSTs (DNS names
                       or IP addresses), CN the first; extended key usage serverAuth
  client NAME...       the same layout with extended key usage clientAuth, for
                       curl --cert DIR/tls.crt --key DIR/tls.key (NAME: a host name, an e-mail
                       address, a URI such as spiffe://..., or a plain name for the CN only)
  --out DIR            where to write; created when missing
  --ca DIR             the CA folder that signs (ca.crt and ca.key, e.g. from gen ca)
  --name NAME          the CA's common name (default "Portico Dev CA")
  --days N             validity in days (default ${DEFAULT_CA_DAYS} for a CA,
                       ${DEFAULT_LEAF_DAYS} for server and client)
  --not-before DATE    start of validity, ISO 8601 (default now): with --days, makes expired
                       certificates for tests, e.g. --not-before 2020-01-01 --days 30
  --rsa                an RSA 2048 key instead of EC P-256
  --force              overwrite existing files (otherwise gen refuses to)
  Keys are written as unencrypted PKCS#8 PEM with mode 0600.
`;

export interface CertsIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** The time validity is judged at (tests); default now. */
  now?: Date;
}

const defaultIo: CertsIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** `argv` is what follows "certs" on the command line. Returns the exit status. */
export async function certsCommand(argv: string[], io: CertsIo = defaultIo): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    if (sub === undefined) {
      io.err(CERTS_USAGE);
      return 2;
    }
    if (sub === "--help" || sub === "-h" || sub === "help") {
      io.out(CERTS_USAGE);
      return 0;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(CERTS_USAGE);
      return 0;
    }
    if (sub === "inspect") return await inspect(parse(rest, INSPECT_FLAGS), io);
    if (sub === "gen" || sub === "generate") return await gen(rest, io);
    throw new UsageError(`unknown certs command "${sub}" (inspect or gen)`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`portico certs: ${err.message}\nRun "portico certs --help" for usage.\n`);
      return 2;
    }
    if (err instanceof GenerateError) {
      io.err(`portico certs: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------- arguments

type Parsed = ReturnType<typeof flagsAndPositionals>;

const INSPECT_FLAGS: Record<string, FlagSpec> = {
  "--ca": { value: true },
  "--cacert": { value: true },
  "--connect": { value: true },
  "--servername": { value: true },
  "--data": { value: true },
  "--json": {},
};
const GEN_FLAGS: Record<string, FlagSpec> = {
  "--out": { value: true },
  "--ca": { value: true },
  "--name": { value: true },
  "--days": { value: true },
  "--not-before": { value: true },
  "--rsa": {},
  "--force": {},
};

function parse(argv: string[], specs: Record<string, FlagSpec>): Parsed {
  return flagsAndPositionals(parseFlags(argv, specs));
}

// ------------------------------------------------------------------------------------ inspect

async function inspect(args: Parsed, io: CertsIo): Promise<number> {
  const now = io.now ?? new Date();
  const json = args.flags.has("--json");
  if (args.flags.has("--ca") && args.flags.has("--cacert"))
    throw new UsageError("give --ca or --cacert, not both");
  const caPath = args.flags.get("--ca") ?? args.flags.get("--cacert");
  const connect = args.flags.get("--connect");
  if (connect === undefined && args.flags.has("--servername"))
    throw new UsageError("--servername goes with --connect");
  if (connect === undefined && args.positional.length === 0 && !args.flags.has("--data"))
    throw new UsageError("inspect needs a file or folder, --connect HOST:PORT or --data DIR");
  if (connect !== undefined && args.positional.length > 0)
    throw new UsageError("give files or --connect, not both");

  const reports: InspectReport[] = [];
  let ca: { file: string; certs: LabeledCertificate[] } | undefined;
  if (caPath !== undefined) {
    const loaded = await loadCaFile(caPath);
    if ("error" in loaded) {
      io.err(`portico certs: ${loaded.error}\n`);
      return 1;
    }
    ca = loaded;
  }

  const data = args.flags.get("--data");
  if (data !== undefined) {
    if (connect !== undefined || args.positional.length > 0)
      throw new UsageError("give --data alone, without files or --connect");
    return inspectData(data, json, { now, ca }, io);
  }
  if (connect !== undefined) {
    const target = parseHostPort(connect);
    const servername = args.flags.get("--servername");
    try {
      const peer = await fetchPeerChain({ ...target, servername });
      const certs = await Promise.all(peer.certs.map((der) => describeCertificate(der)));
      reports.push(
        await inspectServer(
          certs,
          {
            ...target,
            servername: peer.servername,
            protocol: peer.protocol,
            alpn: peer.alpn,
            cipher: peer.cipher,
            defaultTrust: ca ? undefined : { authorized: peer.authorized, error: peer.authorizationError },
          },
          { now, ca },
        ),
      );
    } catch (err) {
      if (!(err instanceof ConnectError)) throw err;
      io.err(`portico certs: cannot inspect ${connect}: ${err.message}\n`);
      const failure = { source: connect, kind: "server", errors: [err.message], ok: false };
      if (json) io.out(`${JSON.stringify([failure], null, 2)}\n`);
      return 1;
    }
  } else {
    for (const path of args.positional) {
      for (const src of await readSource(path)) reports.push(await inspectSource(src, { now, ca }));
    }
  }

  if (json) io.out(`${JSON.stringify(reports.map(reportJson), null, 2)}\n`);
  else io.out(reports.map(renderText).join("\n"));
  return reports.every((r) => r.ok) ? 0 : 1;
}

/** `--data DIR`: the ACME certificate folders, each inspected as a credential folder. */
async function inspectData(
  dir: string,
  json: boolean,
  opts: Parameters<typeof inspectSource>[1],
  io: CertsIo,
): Promise<number> {
  const stored = await new AcmeStorage(dir).listCertificates();
  if (stored.length === 0) {
    io.err(
      `portico certs: no ACME certificates in ${dir} (expected ${join(dir, "acme")}/<ca>/certificates/)\n`,
    );
    return 1;
  }
  const reports: (InspectReport & { acme?: unknown })[] = [];
  for (const s of stored)
    for (const src of await readSource(s.folder))
      reports.push({ ...(await inspectSource(src, opts)), acme: { ...s.meta, lockedUntil: s.lockedUntil } });
  if (json)
    io.out(
      `${JSON.stringify(
        reports.map((r) => ({ ...(reportJson(r) as object), acme: r.acme })),
        null,
        2,
      )}\n`,
    );
  else
    io.out(
      reports
        .map((r) => {
          const a = r.acme as {
            names?: string[];
            directory?: string;
            obtainedAt?: string;
            lockedUntil?: string;
          };
          const lock = a.lockedUntil ? `; being ordered (locked until ${a.lockedUntil})` : "";
          const head = `ACME: ${a.names?.join(", ")} from ${a.directory}, obtained ${a.obtainedAt}${lock}\n`;
          return head + renderText(r);
        })
        .join("\n"),
    );
  return reports.every((r) => r.ok) ? 0 : 1;
}

/** --ca FILE (or a folder: its ca.crt) as labelled trust anchors. */
async function loadCaFile(
  path: string,
): Promise<{ file: string; certs: LabeledCertificate[] } | { error: string }> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, "ca.crt");
  } catch (err) {
    return { error: cannotRead(path, err, "--ca") };
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (err) {
    return { error: cannotRead(file, err, "--ca") };
  }
  const part = await decodePart(file, bytes);
  if (part.errors.length > 0) return { error: `--ca ${part.errors.join("; ")}` };
  if (part.certs.length === 0) return { error: `--ca ${file}: no certificate in it` };
  return { file, certs: part.certs.map((cert, i) => ({ label: `${file} [${i + 1}]`, cert })) };
}

function parseHostPort(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+))(?::(\d{1,5}))?$/.exec(v);
  const port = Number(m?.[3] ?? 443);
  if (!m || port < 1 || port > 65535)
    throw new UsageError(`--connect expects HOST:PORT such as example.com:443 or [::1]:8443, got "${v}"`);
  return { host: m[1] ?? m[2]!, port };
}

// ---------------------------------------------------------------------------------------- gen

async function gen(argv: string[], io: CertsIo): Promise<number> {
  const [what, ...rest] = argv;
  if (what !== "ca" && what !== "server" && what !== "client")
    throw new UsageError(`gen needs ca, server or client${what ? `, not "${what}"` : ""}`);
  const args = parse(rest, GEN_FLAGS);
  const out = args.flags.get("--out");
  if (!out) throw new UsageError(`gen ${what} needs --out DIR`);
  const kind: KeyKind = args.flags.has("--rsa") ? "rsa" : "ec";
  const force = args.flags.has("--force");
  const daysText = args.flags.get("--days");
  if (daysText !== undefined && !/^[1-9]\d{0,5}$/.test(daysText))
    throw new UsageError(`--days expects a positive number of days, got "${daysText}"`);
  const days = daysText === undefined ? undefined : Number(daysText);
  const nb = args.flags.get("--not-before");
  const notBefore = nb === undefined ? undefined : new Date(nb);
  if (notBefore && Number.isNaN(notBefore.getTime()))
    throw new UsageError(
      `--not-before expects an ISO 8601 date such as 2020-01-01 or 2020-01-01T12:00:00Z, got "${nb}"`,
    );

  if (what === "ca") {
    if (args.positional.length > 0)
      throw new UsageError(`gen ca takes no names (use --name), got "${args.positional[0]}"`);
    if (args.flags.has("--ca"))
      throw new UsageError("gen ca makes a CA; --ca is for gen server and gen client");
    await refuseOverwrite(out, ["ca.crt", "ca.key"], force);
    const ca = await generateCa({ name: args.flags.get("--name"), days, notBefore, kind });
    await writeOutputs(out, [
      ["ca.crt", ca.certPem, false],
      ["ca.key", ca.keyPem, true],
    ]);
    const info = await describeCertificate(new Uint8Array(ca.cert.rawData));
    io.out(
      `wrote ${join(out, "ca.crt")}  CA certificate ${info.subject} (${info.publicKey.text}, valid until ` +
        `${opensslTime(info.notAfter)})\n`,
    );
    io.out(`wrote ${join(out, "ca.key")}  private key (PKCS#8, mode 0600)\n`);
    io.out(`next: portico certs gen server --ca ${out} --out DIR HOST...\n`);
    return 0;
  }

  if (args.flags.has("--name"))
    throw new UsageError(`--name is for gen ca; the names of a ${what} certificate are its arguments`);
  const caDir = args.flags.get("--ca");
  if (!caDir)
    throw new UsageError(
      `gen ${what} needs --ca DIR (a folder with ca.crt and ca.key, e.g. from portico certs gen ca)`,
    );
  if (args.positional.length === 0)
    throw new UsageError(
      what === "server" ? "gen server needs at least one HOST" : "gen client needs a NAME",
    );
  // One after the other, so a missing CA folder is always reported by its certificate first.
  const caCert = await readText(join(caDir, "ca.crt"));
  const caKey = await readText(join(caDir, "ca.key"));
  const ca = await loadSigningCa(caCert, caKey, `--ca ${caDir}`);
  await refuseOverwrite(out, ["tls.crt", "tls.key", "ca.crt"], force);
  const leaf = await generateLeaf({ ca, usage: what, names: args.positional, days, notBefore, kind });
  await writeOutputs(out, [
    ["tls.crt", leaf.certPem, false],
    ["tls.key", leaf.keyPem, true],
    ["ca.crt", caCert, false],
  ]);
  const info = await describeCertificate(new Uint8Array(leaf.cert.rawData));
  const sans = info.subjectAltNames.length ? info.subjectAltNames.join(", ") : `CN ${args.positional[0]}`;
  io.out(
    `wrote ${join(out, "tls.crt")}  ${what} certificate for ${sans} (${info.publicKey.text}, valid until ` +
      `${opensslTime(info.notAfter)}), issued by ${info.issuer}\n`,
  );
  io.out(`wrote ${join(out, "tls.key")}  private key (PKCS#8, mode 0600)\n`);
  io.out(`wrote ${join(out, "ca.crt")}   the CA's certificate\n`);
  if (what === "server") io.out(`use it in routes.yaml: credentials: { NAME: ${out} }\n`);
  else io.out(`use it with curl: --cert ${join(out, "tls.crt")} --key ${join(out, "tls.key")}\n`);
  return 0;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new GenerateError(cannotRead(file, err), { cause: err });
  }
}

async function refuseOverwrite(dir: string, names: string[], force: boolean): Promise<void> {
  if (force) return;
  const existing: string[] = [];
  for (const n of names) {
    try {
      await stat(join(dir, n));
      existing.push(join(dir, n));
    } catch {
      // absent: fine
    }
  }
  if (existing.length > 0)
    throw new GenerateError(
      `${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""}; use --force to overwrite`,
    );
}

/** [name, content, secret]: secrets get mode 0600, also when the file existed before. */
async function writeOutputs(dir: string, files: [string, string, boolean][]): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    for (const [name, content, secret] of files) {
      const file = join(dir, name);
      await writeFile(file, content, { mode: secret ? 0o600 : 0o644 });
      if (secret) await chmod(file, 0o600);
    }
  } catch (err) {
    throw new GenerateError(
      `cannot write to ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
