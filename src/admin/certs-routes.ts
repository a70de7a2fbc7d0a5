// GET /certs and /certs/:name: every loaded credential, where it is used, and whether it is
// healthy: subject, issuer, SANs, expiry, fingerprint, chain status, the client CA for MUTUAL.
import type { CertificateSummary, CredentialPlan, Plan } from "../provision/plan.ts";
import type { AdminApp } from "./app.ts";
import type { AcmeStatus } from "../acme/manager.ts";
import { daysLeft } from "../util/days.ts";

/** The ACME lifecycle as the admin API sees it: each credential's state; a renewal on demand. */
export interface AcmeView {
  status(): AcmeStatus[];
  renewNow(name: string): boolean;
}

export function mountCerts(
  app: AdminApp,
  plan: () => Plan,
  acme?: AcmeView,
  now: () => Date = () => new Date(),
): void {
  // ACME credentials still waiting for their first certificate have no plan yet: they are
  // listed too, with why they wait (the CA's problem document, verbatim).
  const all = () => {
    const states = new Map((acme?.status() ?? []).map((s) => [s.credential, s]));
    const loaded = plan().credentials.map((cred) =>
      withAcme(describe(cred, plan(), now()), states.get(cred.name)),
    );
    const pending = [...states.values()]
      .filter((s) => !plan().credentials.some((c) => c.name === s.credential))
      .map((s) => ({ name: s.credential, pending: true, acme: s }));
    return [...loaded, ...pending];
  };
  app.get("/certs", (c) => c.json(all()));
  app.get("/certs/:name", (c) => {
    const found = all().find((x) => x.name === c.req.param("name"));
    if (!found)
      return c.json(
        { error: `no credential named "${c.req.param("name")}"`, known: all().map((x) => x.name) },
        404,
      );
    return c.json(found);
  });
  if (acme)
    app.post("/certs/:name/renew", (c) => {
      const name = c.req.param("name");
      if (!acme.renewNow(name)) return c.json({ error: `no ACME credential named "${name}"` }, 404);
      return c.json({ renewing: name }, 202);
    });
}

function withAcme<T extends object>(d: T, s: AcmeStatus | undefined): T & { acme?: AcmeStatus } {
  return s === undefined ? d : { ...d, acme: s };
}

function describe(cred: CredentialPlan, plan: Plan, now: Date) {
  const usedBy = plan.listeners.flatMap((l) =>
    l.kind === "https"
      ? l.servers
          .filter((s) => s.credential === cred)
          .map((s) => ({ listener: l.name, port: l.port, hosts: s.hosts, mode: s.mode }))
      : [],
  );
  return {
    name: cred.name,
    files: { cert: cred.certFile, key: cred.keyFile, ...(cred.caFile ? { ca: cred.caFile } : {}) },
    usedBy,
    ...certificate(cred.leaf, now),
    chain: {
      status: cred.chainProblems.length === 0 ? "ok" : "broken",
      problems: cred.chainProblems,
      certificates: cred.chain.map((x) => ({
        subject: x.subject,
        issuer: x.issuer,
        notAfter: x.notAfter.toISOString(),
      })),
      anchoredAt: cred.anchoredAt,
    },
    clientCa: usedBy.some((u) => u.mode !== "SIMPLE")
      ? cred.clientCa.map((x) => certificate(x, now))
      : undefined,
  };
}

function certificate(x: CertificateSummary, now: Date) {
  return {
    subject: x.subject,
    issuer: x.issuer,
    sans: x.dnsNames,
    notBefore: x.notBefore.toISOString(),
    notAfter: x.notAfter.toISOString(),
    daysLeft: daysLeft(x.notAfter, now),
    sha256: x.sha256,
  };
}
