// Istio DestinationRule → the traffic policy, upstream TLS and subsets of the service its `host`
// names (a routes.yaml service, a `--service`, or a ServiceEntry host), found as a
// VirtualService destination finds it (`webapp.ns.svc.cluster.local` → `webapp`). One rule per
// service: Istio would use the oldest of several; Portico asks for one. A rule for a host no
// service has is accepted with a warning, as Istio accepts it.
// Field reference: https://istio.io/latest/docs/reference/config/networking/destination-rule/

import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { labels } from "../endpoints.ts";
import { serviceForHost } from "../http-route-build.ts";
import { subsetName } from "../http-route-schema.ts";
import type {
  Config,
  ServiceConfig,
  SubsetConfig,
  TrafficPolicyConfig,
  UpstreamTlsConfig,
} from "../model.ts";
import { placeOf } from "../report.ts";
import { list, mapping, port, text, validate } from "../schema-kit.ts";
import {
  buildPolicySections,
  ConnectionPoolSchema,
  LoadBalancerSchema,
  mergePolicy,
  OutlierDetectionSchema,
} from "../traffic-policy.ts";
import { ClientTlsSchema, clientTls, originatesTls } from "../upstream-tls.ts";
import type { FieldPath } from "../yaml-locate.ts";
import type { IstioDoc } from "./document.ts";

const SECTIONS = {
  loadBalancer: v.optional(LoadBalancerSchema),
  connectionPool: v.optional(ConnectionPoolSchema),
  outlierDetection: v.optional(OutlierDetectionSchema),
  tls: v.optional(ClientTlsSchema),
};
const UNSUPPORTED_POLICY = {
  tunnel: "Portico does not tunnel upstream connections",
  proxyProtocol: "Portico does not send PROXY protocol headers to upstreams",
};

// https://istio.io/latest/docs/reference/config/networking/destination-rule/#TrafficPolicy-PortTrafficPolicy
const PortPolicySchema = mapping(
  "a mapping with port and loadBalancer, connectionPool, outlierDetection or tls",
  { port: mapping("a mapping with number", { number: port }), ...SECTIONS },
  UNSUPPORTED_POLICY,
);

const TrafficPolicySchema = mapping(
  "a mapping with loadBalancer, connectionPool, outlierDetection, tls or portLevelSettings",
  {
    ...SECTIONS,
    portLevelSettings: v.optional(
      list("a non-empty list of port settings, each with port", PortPolicySchema, 1),
    ),
  },
  {
    ...UNSUPPORTED_POLICY,
    healthCheck:
      "Istio has no active health checks; Portico's are set on a routes.yaml service (healthCheck)",
  },
);
type RawPolicy = v.InferOutput<typeof TrafficPolicySchema>;
type RawSections = Pick<RawPolicy, "loadBalancer" | "connectionPool" | "outlierDetection" | "tls">;

const SubsetSchema = mapping("a mapping with name, labels and optional trafficPolicy", {
  name: subsetName,
  labels: v.optional(labels),
  trafficPolicy: v.optional(TrafficPolicySchema),
});

const SpecSchema = mapping(
  "a mapping with host, trafficPolicy and subsets",
  {
    host: text("a host name", 1),
    trafficPolicy: v.optional(TrafficPolicySchema),
    subsets: v.optional(list("a list of subsets, each with name and labels", SubsetSchema)),
    exportTo: v.optional(list("a list of namespaces", text("a namespace"))),
  },
  {
    workloadSelector:
      "it picks the sidecars a rule applies to; Portico is the gateway, and a rule applies to it " +
      "for its host",
  },
);

export interface DestinationRuleOptions {
  config: Config;
  /** Resolves a credentialName like a Gateway's (sources/compose.ts), or reports why not. */
  credential: (name: string, doc: IstioDoc, at: (string | number)[]) => string | undefined;
  /** The rule each service got so far, so that a second one is refused. */
  attached: Map<string, IstioDoc>;
  /** ServiceEntry `subjectAltNames` by service: used when the rule's tls gives none (as Istio). */
  serviceEntrySans: Map<string, string[]>;
}

/** Applies one DestinationRule to its service; problems are reported on the document. */
export function applyDestinationRule(doc: IstioDoc, opts: DestinationRuleOptions): void {
  const spec = validate(SpecSchema, doc.raw.spec ?? {}, ["spec"], doc.ctx);
  if (!spec) return;
  const ctx = doc.ctx;
  const hostAt: FieldPath = ["spec", "host"];
  const host = spec.host.toLowerCase();
  if (host.includes("*")) {
    ctx.report(
      hostAt,
      "a DestinationRule for a wildcard host is not supported by Portico; name the service's host",
    );
    return;
  }
  const name = serviceForHost(host, opts.config.services);
  if (name === undefined) {
    const nothing = "this DestinationRule applies to nothing (Istio accepts it too)";
    const message = `host "${host}" names no service; ${nothing}`;
    ctx.report(hostAt, message, "warning");
    return;
  }
  const earlier = opts.attached.get(name);
  if (earlier) {
    const where = `${earlier.ctx.file}:${earlier.ctx.source(["spec", "host"]).line}`;
    ctx.report(
      hostAt,
      `service "${name}" already has the DestinationRule "${earlier.name}" (${where}); Istio would use the ` +
        "oldest and ignore the other, Portico asks for one: merge them",
    );
    return;
  }
  const service = opts.config.services.get(name)!;
  const own = service.trafficPolicy || service.subsets || (service.tls && spec.trafficPolicy?.tls);
  if (own) {
    ctx.report(
      hostAt,
      `service "${name}" already sets its traffic policy, subsets or tls at ${placeOf(service.source)}; ` +
        "write them in one place",
    );
    return;
  }
  opts.attached.set(name, doc);
  const baseDir = dirname(resolve(ctx.file));
  const sans = opts.serviceEntrySans.get(name);
  const policyOf = (raw: RawPolicy | undefined, at: FieldPath) =>
    raw && effectivePolicy(raw, at, service, doc, opts, baseDir, sans);

  const top = policyOf(spec.trafficPolicy, ["spec", "trafficPolicy"]);
  if (top) {
    const { tls, ...sections } = top;
    if (tls) setTls(service, tls);
    if (Object.keys(sections).length > 0) service.trafficPolicy = sections;
  }
  if (spec.subsets && spec.subsets.length > 0) {
    const seen = new Set<string>();
    service.subsets = spec.subsets.map((s, i): SubsetConfig => {
      const at: FieldPath = ["spec", "subsets", i];
      // Istio's validation: subset names are unique within a rule.
      if (seen.has(s.name)) ctx.report([...at, "name"], `subset "${s.name}" is defined twice`);
      seen.add(s.name);
      const trafficPolicy = mergePolicy(
        service.trafficPolicy,
        policyOf(s.trafficPolicy, [...at, "trafficPolicy"]),
      );
      return {
        name: s.name,
        labels: s.labels ?? {},
        ...(trafficPolicy ? { trafficPolicy } : {}),
        source: ctx.source(at),
      };
    });
  }
}

/**
 * A trafficPolicy's sections, with the `portLevelSettings` entry for the service's port laid over
 * them: each section it sets replaces the whole section (Istio: "port level settings will
 * override the destination-level settings"). Entries for other ports are ignored with a warning.
 */
function effectivePolicy(
  raw: RawPolicy,
  at: FieldPath,
  service: ServiceConfig,
  doc: IstioDoc,
  opts: DestinationRuleOptions,
  baseDir: string,
  sans: string[] | undefined,
): TrafficPolicyConfig | undefined {
  const sectionsOf = (r: RawSections, rat: FieldPath): TrafficPolicyConfig => {
    const out: TrafficPolicyConfig = { ...buildPolicySections(r, rat, doc.ctx) };
    if (r.tls) {
      const tlsAt = [...rat, "tls"];
      const credential =
        r.tls.credentialName === undefined
          ? undefined
          : opts.credential(r.tls.credentialName, doc, [...tlsAt, "credentialName"]);
      const tls = clientTls(r.tls, baseDir, credential);
      out.tls = originatesTls(tls) && !tls.subjectAltNames && sans ? { ...tls, subjectAltNames: sans } : tls;
    }
    return out;
  };
  let policy = sectionsOf(raw, at);
  (raw.portLevelSettings ?? []).forEach((p, k) => {
    const pat = [...at, "portLevelSettings", k];
    if (p.port.number !== service.port) {
      doc.ctx.report(
        [...pat, "port", "number"],
        `ignored: service "${service.name}" has port ${service.port} only`,
        "warning",
      );
      return;
    }
    policy = { ...policy, ...sectionsOf(p, pat) };
  });
  return Object.keys(policy).length > 0 ? policy : undefined;
}

/** The rule's tls becomes the service's: TLS origination (https) or none (http), as Istio. */
function setTls(service: ServiceConfig, tls: UpstreamTlsConfig): void {
  if (service.url.startsWith("tcp:")) {
    service.tls = tls; // tcp and tls routes forward bytes; provisioning warns that tls does not apply
    return;
  }
  const on = originatesTls(tls);
  if (on) service.tls = tls;
  else delete service.tls;
  const host = service.host.includes(":") ? `[${service.host}]` : service.host;
  service.url = new URL(`${on ? "https" : "http"}://${host}:${service.port}`).origin;
}
