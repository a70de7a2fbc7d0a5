// Prints inspection reports: text for people (field names and values as OpenSSL writes them),
// or JSON for programs.

import type { ChainCheck, LinkCheck } from "./chain.ts";
import type { CertificateEntry, InspectReport } from "./inspect.ts";
import { opensslTime } from "./openssl-text.ts";

const W = 21; // width of the field names, "Signature Algorithm: "

export function renderText(report: InspectReport): string {
  const out: string[] = [];
  out.push(`== ${report.source} (${heading(report)})`);
  if (report.server) {
    const s = report.server;
    if (s.servername !== undefined) out.push(field("Server Name", s.servername));
    out.push(field("Protocol", [s.protocol, s.cipher].filter(Boolean).join(", ") || "unknown"));
    out.push(field("ALPN", s.alpn || "none"));
    if (s.nameMatches !== undefined)
      out.push(field("Name Matches", `${s.nameMatches ? "yes" : "NO"} (${s.servername ?? s.host})`));
    if (s.defaultTrust)
      out.push(
        field(
          "Default Trust",
          s.defaultTrust.authorized
            ? "trusted by the runtime's CA store"
            : `not trusted by the runtime's CA store (${s.defaultTrust.error ?? "unknown reason"})`,
        ),
      );
  }
  for (const f of report.files) out.push(`  ${f.name.padEnd(8)} ${f.summary}`);
  if (report.key && report.kind === "file") {
    const k = report.key;
    const match =
      k.matches === undefined ? "" : k.matches ? `; matches ${k.against}` : `; does NOT match ${k.against}`;
    out.push(`  private key: ${k.details.text}, ${k.details.format}${match}`);
  }
  for (const c of report.certificates) out.push("", ...certificateLines(c));
  if (report.chain) {
    const part =
      report.kind === "file" || report.kind === "server"
        ? ""
        : ` (${report.certificates[0]!.label.replace(/ \[\d+\]$/, "")})`;
    out.push("", ...chainLines(`Chain${part}`, report.chain));
  }
  if (report.caChain) out.push("", ...chainLines("Chain (ca.crt)", report.caChain));
  if (report.notes.length > 0) out.push("", ...report.notes.map((n) => `note: ${n}`));
  if (report.errors.length > 0) out.push("", ...report.errors.map((e) => `error: ${e}`));
  out.push("", `Result: ${verdict(report)}`);
  return `${out.join("\n")}\n`;
}

function heading(r: InspectReport): string {
  const n = r.certificates.length;
  const certs = `${n} certificate${n === 1 ? "" : "s"}`;
  switch (r.kind) {
    case "file":
      return [r.encoding, n > 0 ? certs : undefined, r.key ? "private key" : undefined]
        .filter(Boolean)
        .join(", ");
    case "server":
      return `TLS server, ${certs} presented`;
    case "Kubernetes Secret":
      return `Kubernetes Secret${r.secret?.type ? ` of type ${r.secret.type}` : ""}`;
    default:
      return r.kind;
  }
}

function certificateLines(c: CertificateEntry): string[] {
  const x = c.cert;
  const lines = [`Certificate ${c.label}${c.selfSigned ? " (self-signed)" : ""}`];
  lines.push(field("Subject", x.subject));
  lines.push(field("Issuer", x.issuer));
  lines.push(field("Serial Number", x.serialNumber));
  const notYet =
    c.status === "not yet valid"
      ? ` (NOT VALID YET, in ${c.daysUntilValid} day${c.daysUntilValid === 1 ? "" : "s"})`
      : "";
  lines.push(field("Not Before", `${opensslTime(x.notBefore)}${notYet}`));
  const left =
    c.status === "expired"
      ? `EXPIRED ${-c.daysLeft} day${c.daysLeft === -1 ? "" : "s"} ago`
      : `${c.daysLeft} day${c.daysLeft === 1 ? "" : "s"} left`;
  lines.push(field("Not After", `${opensslTime(x.notAfter)} (${left})`));
  lines.push(field("Subject Alt Names", x.subjectAltNames.length ? x.subjectAltNames.join(", ") : "none"));
  lines.push(field("Public Key", x.publicKey.text));
  lines.push(field("Signature Algorithm", x.signatureAlgorithm));
  lines.push(
    field(
      "Key Usage",
      x.keyUsage ? `${x.keyUsage.usages.join(", ")}${x.keyUsage.critical ? " (critical)" : ""}` : "none",
    ),
  );
  lines.push(
    field(
      "Extended Key Usage",
      x.extendedKeyUsage
        ? `${x.extendedKeyUsage.usages.join(", ")}${x.extendedKeyUsage.critical ? " (critical)" : ""}`
        : "none",
    ),
  );
  lines.push(
    field(
      "Basic Constraints",
      x.basicConstraints
        ? `${basicConstraintsText(x.basicConstraints)}${x.basicConstraints.critical ? " (critical)" : ""}`
        : "none",
    ),
  );
  lines.push(field("SHA-1 Fingerprint", x.fingerprints.sha1));
  lines.push(field("SHA-256 Fingerprint", x.fingerprints.sha256));
  return lines;
}

/** `CA:TRUE, pathlen:0`, as OpenSSL prints X509v3 Basic Constraints. */
export function basicConstraintsText(bc: { ca: boolean; pathLength?: number }): string {
  return `CA:${bc.ca ? "TRUE" : "FALSE"}${bc.pathLength !== undefined ? `, pathlen:${bc.pathLength}` : ""}`;
}

function chainLines(title: string, chain: ChainCheck): string[] {
  const lines = [title];
  const link = (l: LinkCheck) => `  ${l.child} issued by ${l.parent}: ${l.ok ? "ok" : l.problems.join("; ")}`;
  lines.push(...chain.links.map(link));
  lines.push(`  ${chain.top.label}: ${chain.top.detail}`);
  for (const v of chain.validity) lines.push(`  ${v}`);
  if (chain.anchor)
    lines.push(
      `  ends in --ca ${chain.anchor.file}: ${chain.anchor.ok ? "yes" : "NO"} (${chain.anchor.detail})`,
    );
  lines.push(`  ${chain.ok ? "verifies" : "does NOT verify"}`);
  return lines;
}

function verdict(r: InspectReport): string {
  if (r.ok) return "ok";
  const why: string[] = [];
  if (r.errors.length) why.push(`${r.errors.length} error${r.errors.length === 1 ? "" : "s"}`);
  if (r.chain && !r.chain.ok) why.push("chain does not verify");
  if (r.caChain && !r.caChain.ok) why.push("ca.crt chain does not verify");
  return `FAILED (${why.join(", ")})`;
}

function field(name: string, value: string): string {
  return `  ${`${name}:`.padEnd(W)}${value}`;
}

/** The machine-readable form: plain JSON values, dates as ISO 8601. */
export function reportJson(r: InspectReport): unknown {
  return {
    source: r.source,
    kind: r.kind,
    ...(r.encoding ? { encoding: r.encoding } : {}),
    ...(r.secret ? { secret: r.secret } : {}),
    ...(r.server ? { server: r.server } : {}),
    ...(r.files.length ? { files: r.files } : {}),
    certificates: r.certificates.map((c) => ({
      label: c.label,
      subject: c.cert.subject,
      issuer: c.cert.issuer,
      serialNumber: c.cert.serialNumber,
      serialHex: c.cert.serialHex,
      notBefore: c.cert.notBefore.toISOString(),
      notAfter: c.cert.notAfter.toISOString(),
      daysLeft: c.daysLeft,
      ...(c.status === "not yet valid" ? { daysUntilValid: c.daysUntilValid } : {}),
      status: c.status,
      subjectAltNames: c.cert.subjectAltNames,
      publicKey: c.cert.publicKey,
      signatureAlgorithm: c.cert.signatureAlgorithm,
      keyUsage: c.cert.keyUsage ?? null,
      extendedKeyUsage: c.cert.extendedKeyUsage ?? null,
      basicConstraints: c.cert.basicConstraints
        ? { ...c.cert.basicConstraints, text: basicConstraintsText(c.cert.basicConstraints) }
        : null,
      fingerprints: c.cert.fingerprints,
      selfSigned: c.selfSigned,
    })),
    ...(r.key
      ? {
          key: {
            file: r.key.file,
            format: r.key.details.format,
            type: r.key.details.type,
            ...(r.key.details.bits !== undefined ? { bits: r.key.details.bits } : {}),
            ...(r.key.details.curve ? { curve: r.key.details.curve } : {}),
            text: r.key.details.text,
            ...(r.key.matches !== undefined ? { matches: r.key.matches, against: r.key.against } : {}),
          },
        }
      : {}),
    ...(r.chain ? { chain: r.chain } : {}),
    ...(r.caChain ? { caChain: r.caChain } : {}),
    ...(r.issuedByCa ? { issuedByCa: r.issuedByCa } : {}),
    errors: r.errors,
    notes: r.notes,
    ok: r.ok,
  };
}
