// ACME credentials in provisioning: their identifiers are the hosts of the HTTPS servers that
// use them; wildcards are refused (they need DNS-01, which Portico does not answer, RFC 8555
// §7.1.3 and Let's Encrypt's policy). A credential whose certificate is there (src/acme/,
// through `AcmeSource`) is read like any other, from the PEM text; one still pending yields no
// CredentialPlan, so its servers are left out of the listener's SNI table and their names are
// refused as an unknown SNI is, until the certificate arrives and a reload brings it in. A
// certificate may cover only some of the names (the CA refused the others): provision.ts serves
// those and keeps the rest pending, host by host.

import type { AcmeCredentialSpec } from "../acme/manager.ts";
import type { Config, CredentialConfig } from "../config/model.ts";
import { cannotRead, type ConfigIssue } from "../util/errors.ts";
import { readText } from "../util/file-reads.ts";
import { provisionCredential, type CredentialResult } from "./credentials.ts";
import { issueAt } from "./issues.ts";

/** What provisioning asks of the running ACME lifecycle (acme/manager.ts implements it). */
export interface AcmeSource {
  sync(specs: AcmeCredentialSpec[]): Promise<void>;
  material(name: string): { certPem: string; keyPem: string; certPath: string } | undefined;
}

/**
 * The ACME credentials that `used` names: each one's spec handed to `source` (when there is one:
 * `portico validate` has none, and treats them all as pending), then the certificates it has.
 */
export async function provisionAcmeCredentials(
  config: Config,
  used: Set<string>,
  source: AcmeSource | undefined,
  issues: ConfigIssue[],
): Promise<CredentialResult[]> {
  const acme = [...config.credentials.values()].filter((c) => c.acme !== undefined && used.has(c.name));
  if (acme.length === 0) return [];
  const specs: AcmeCredentialSpec[] = [];
  for (const c of acme) {
    const spec = await specOf(c, config, issues);
    if (spec) specs.push(spec);
  }
  await source?.sync(specs);
  const results: CredentialResult[] = [];
  for (const spec of specs) {
    const m = source?.material(spec.name);
    if (!m) continue;
    const c = config.credentials.get(spec.name)!;
    results.push(
      await provisionCredential({
        ...c,
        cert: m.certPath,
        key: m.certPath.replace(/tls\.crt$/, "tls.key"),
        inline: { cert: m.certPem, key: m.keyPem },
      }),
    );
  }
  return results;
}

async function specOf(c: CredentialConfig, config: Config, issues: ConfigIssue[]) {
  const a = c.acme!;
  const names = new Set<string>();
  let ok = true;
  for (const l of config.listeners) {
    if (l.protocol !== "HTTPS") continue;
    for (const s of l.servers) {
      if (s.credential !== c.name) continue;
      for (const h of s.hosts) {
        if (h.includes("*")) {
          ok = false;
          issues.push(
            issueAt(
              s.source,
              `host "${h}" uses ACME credential "${c.name}", but a CA validates a wildcard only ` +
                "with a DNS-01 challenge, which Portico does not answer: list the names, or give " +
                "this server a certificate from files",
              ".hosts",
            ),
          );
        } else names.add(h.toLowerCase());
      }
      if (s.mode !== "SIMPLE") ok = false; // parse reported it: an ACME credential has no client CA
    }
  }
  for (const svc of config.services.values())
    for (const tls of [svc.tls, ...(svc.subsets ?? []).map((sub) => sub.trafficPolicy?.tls)])
      if (tls?.credential === c.name) {
        ok = false;
        issues.push(
          issueAt(
            svc.source,
            `ACME credential "${c.name}" is a server certificate for Portico's own hosts; it cannot be ` +
              "an upstream client certificate",
          ),
        );
      }
  let caPem: string | undefined;
  if (a.caBundle !== undefined) {
    try {
      caPem = await readText(a.caBundle);
    } catch (err) {
      ok = false;
      issues.push(issueAt(c.source, cannotRead(a.caBundle, err, "ACME CA bundle"), ".acme.caBundle"));
    }
  }
  if (!ok || names.size === 0) return undefined;
  const spec: AcmeCredentialSpec = {
    name: c.name,
    directory: a.directory,
    keyType: a.keyType,
    names: [...names].sort(),
  };
  if (a.email) spec.email = a.email;
  if (caPem !== undefined) spec.caPem = caPem;
  if (a.eab) spec.eab = a.eab;
  if (a.challenges) spec.challenges = a.challenges;
  if (a.renewBeforeMs !== undefined) spec.renewBeforeMs = a.renewBeforeMs;
  return spec;
}
