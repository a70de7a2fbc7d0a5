// GET /certs and /certs/:name: every loaded credential, where it is used, and whether it is
// healthy: subject, issuer, SANs, expiry, fingerprint, chain status, the client CA for MUTUAL.
import type { CertificateSummary, CredentialPlan, Plan } from "../provision/plan.ts";
import type { AdminApp } from "./app.ts";
import { daysLeft } from "../util/days.ts";

export function mountCerts(app: AdminApp, plan: () => Plan, now: () => Date = () => new Date()): void {
  app.get("/certs", (c) => c.json(plan().credentials.map((cred) => describe(cred, plan(), now()))));
  app.get("/certs/:name", (c) => {
    const cred = plan().credentials.find((x) => x.name === c.req.param("name"));
    if (!cred)
      return c.json(
        {
          error: `no credential named "${c.req.param("name")}"`,
          known: plan().credentials.map((x) => x.name),
        },
        404,
      );
    return c.json(describe(cred, plan(), now()));
  });
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
