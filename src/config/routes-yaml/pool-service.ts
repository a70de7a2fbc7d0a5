// A routes.yaml service beyond one URL: `endpoints` with a `resolution`, Istio's traffic policy
// sections written on the service itself (loadBalancer, connectionPool, outlierDetection),
// Portico's `healthCheck`, and `subsets` with their own trafficPolicy, as a DestinationRule
// writes them. The schema fields and rules (added to the service mapping in schema.ts) and the
// builder into ServiceConfig's pool fields (called by parse.ts).

import { isIP } from "node:net";
import * as v from "valibot";
import { checkResolution, endpointAddress, labels, MAX_WEIGHT, resolution } from "../endpoints.ts";
import { subsetName } from "../http-route-schema.ts";
import type { CredentialConfig, EndpointConfig, Resolution, ServiceConfig, SubsetConfig } from "../model.ts";
import type { Reporter } from "../report.ts";
import { type AddIssue, integer, list, mapping, port } from "../schema-kit.ts";
import { unknownName } from "../suggest.ts";
import {
  buildPolicySections,
  ConnectionPoolSchema,
  HealthCheckSchema,
  LoadBalancerSchema,
  mergePolicy,
  OutlierDetectionSchema,
} from "../traffic-policy.ts";
import { serviceTls, ServiceTlsSchema } from "../upstream-tls.ts";
import type { FieldPath } from "../yaml-locate.ts";

const EndpointSchema = mapping("a mapping with address and optional port, weight and labels", {
  address: endpointAddress,
  port: v.optional(port),
  weight: v.optional(integer(`an integer 1..${MAX_WEIGHT}`, 1, MAX_WEIGHT)),
  labels: v.optional(labels),
});

const SubsetPolicySchema = mapping(
  "a mapping with loadBalancer, connectionPool, outlierDetection or tls",
  {
    loadBalancer: v.optional(LoadBalancerSchema),
    connectionPool: v.optional(ConnectionPoolSchema),
    outlierDetection: v.optional(OutlierDetectionSchema),
    tls: v.optional(ServiceTlsSchema),
  },
  { healthCheck: "health checks watch every endpoint of the service; set healthCheck on the service" },
);

const SubsetSchema = mapping("a mapping with name, labels and optional trafficPolicy", {
  name: subsetName,
  labels: v.optional(labels),
  trafficPolicy: v.optional(SubsetPolicySchema),
});

/** The pool fields of a routes.yaml service mapping (next to url and tls). */
export function poolServiceFields() {
  return {
    endpoints: v.optional(list("a non-empty list of endpoints, each with address", EndpointSchema, 1)),
    resolution: v.optional(resolution),
    loadBalancer: v.optional(LoadBalancerSchema),
    connectionPool: v.optional(ConnectionPoolSchema),
    outlierDetection: v.optional(OutlierDetectionSchema),
    healthCheck: v.optional(HealthCheckSchema),
    subsets: v.optional(list("a non-empty list of subsets, each with name and labels", SubsetSchema, 1)),
  };
}

/** Rules across the fields of one service mapping; `urlWanted` says what `url` expects. */
export function poolServiceIssues(service: Record<string, unknown>, add: AddIssue, urlWanted: string): void {
  const endpoints = "endpoints" in service;
  if (!endpoints && !("url" in service))
    add(["url"], `required field is missing; expected ${urlWanted} (or endpoints)`);
  if (endpoints && "url" in service)
    add(["endpoints"], "url and endpoints are alternatives: set one of them");
  if (!endpoints) {
    if ("resolution" in service) add(["resolution"], "only allowed with endpoints");
    if ("subsets" in service)
      add(["subsets"], "only allowed with endpoints: subsets select endpoints by their labels");
  }
}

type RawService = v.InferOutput<v.ObjectSchema<ReturnType<typeof poolServiceFields>, undefined>>;

/**
 * The pool fields of service `name` (schema-valid) at `at`: endpoints, resolution, policy,
 * subsets; `url`, `host` and `port` name the service (model.ts). `tlsOn`: whether the service
 * has `tls`, which makes it speak https to every endpoint.
 */
export function buildEndpointService(
  name: string,
  raw: RawService,
  at: FieldPath,
  tlsOn: boolean,
  ctx: Reporter,
): Pick<ServiceConfig, "url" | "host" | "port" | "endpoints" | "resolution"> {
  const defaultPort = tlsOn ? 443 : 80;
  const endpoints: EndpointConfig[] = raw.endpoints!.map((e, i) => ({
    address: e.address.toLowerCase(),
    port: e.port ?? defaultPort,
    weight: e.weight ?? 1,
    labels: e.labels ?? {},
    source: ctx.source([...at, "endpoints", i]),
  }));
  // Unwritten: STATIC when every address is an IP, else DNS; either way Istio's rules between
  // addresses and resolution apply (checkResolution).
  const resolution: Resolution =
    raw.resolution !== undefined && raw.resolution !== "NONE"
      ? raw.resolution
      : endpoints.every((e) => isIP(e.address) !== 0)
        ? "STATIC"
        : "DNS";
  checkResolution(endpoints, resolution, (i) => [...at, "endpoints", i, "address"], ctx);
  const port = endpoints[0]!.port;
  const scheme = tlsOn ? "https" : "http";
  return { url: `${scheme}://${name}`, host: name, port, endpoints, resolution };
}

/** The service's own policy sections and its subsets (each with its effective policy). */
export function buildServicePolicy(
  raw: RawService,
  at: FieldPath,
  baseDir: string,
  credentials: Map<string, CredentialConfig> | undefined,
  ctx: Reporter,
): Pick<ServiceConfig, "trafficPolicy" | "subsets"> {
  const out: Pick<ServiceConfig, "trafficPolicy" | "subsets"> = {};
  const policy = buildPolicySections(raw, at, ctx);
  if (policy) out.trafficPolicy = policy;
  if (raw.subsets) {
    const seen = new Set<string>();
    out.subsets = raw.subsets.map((s, i): SubsetConfig => {
      const sat = [...at, "subsets", i];
      if (seen.has(s.name)) ctx.report([...sat, "name"], `subset "${s.name}" is defined twice`);
      seen.add(s.name);
      const own = s.trafficPolicy && buildPolicySections(s.trafficPolicy, [...sat, "trafficPolicy"], ctx);
      const tls = s.trafficPolicy?.tls;
      if (tls?.credential !== undefined)
        checkCredential(tls.credential, [...sat, "trafficPolicy", "tls"], credentials, ctx);
      const withTls = tls ? { ...own, tls: serviceTls(tls, baseDir) } : own;
      const trafficPolicy = mergePolicy(policy, withTls);
      return {
        name: s.name,
        labels: s.labels ?? {},
        ...(trafficPolicy ? { trafficPolicy } : {}),
        source: ctx.source(sat),
      };
    });
  }
  return out;
}

/** routes.yaml's `tls.credential` names an entry of `credentials`. */
export function checkCredential(
  name: string,
  tlsAt: FieldPath,
  credentials: Map<string, CredentialConfig> | undefined,
  ctx: Reporter,
): void {
  if (credentials && !credentials.has(name))
    ctx.report(
      [...tlsAt, "credential"],
      unknownName("credential", "credentials", name, [...credentials.keys()]),
    );
}
