// Istio ServiceEntry and WorkloadEntry → services with endpoints. Each host of a ServiceEntry
// becomes a service named by that host, so a VirtualService destination `host:` finds it without
// `--service`. Endpoints come from `endpoints`, from the WorkloadEntry documents the
// `workloadSelector` selects, or (DNS without endpoints) from the hosts themselves, as in Istio.
// Field reference: https://istio.io/latest/docs/reference/config/networking/service-entry/
// and https://istio.io/latest/docs/reference/config/networking/workload-entry/

import * as v from "valibot";
import {
  checkResolution,
  endpointAddress,
  labels,
  MAX_WEIGHT,
  resolution as resolutionSchema,
  selects,
} from "../endpoints.ts";
import type { EndpointConfig, Resolution, ServiceConfig, Source } from "../model.ts";
import { placeOf } from "../report.ts";
import {
  hostProblem,
  integer,
  list,
  mapping,
  namedMap,
  oneOf,
  port,
  rule,
  text,
  validate,
} from "../schema-kit.ts";
import { parseServiceUrl } from "../service-url.ts";
import type { FieldPath } from "../yaml-locate.ts";
import type { IstioDoc } from "./document.ts";

const UNSUPPORTED_WORKLOAD = {
  network: "Portico has no networks: every endpoint is reached directly",
  locality: "Portico has no localities: every endpoint is in one place",
};

/** Istio's WorkloadEntry: a ServiceEntry's `endpoints[]`, or a WorkloadEntry document's spec. */
const WorkloadSchema = mapping(
  "a mapping with address and optional ports, labels and weight",
  {
    address: endpointAddress,
    ports: v.optional(namedMap("a mapping of port names to port numbers", port)),
    labels: v.optional(labels),
    // proto3: 0 is unset, which Istio reads as 1.
    weight: v.optional(integer(`an integer 0..${MAX_WEIGHT}`, 0, MAX_WEIGHT)),
    // The identity a mesh's mTLS would check; no effect outside a mesh.
    serviceAccount: v.optional(text("a service account name")),
  },
  UNSUPPORTED_WORKLOAD,
);
type RawWorkload = v.InferOutput<typeof WorkloadSchema>;

const PortSchema = mapping("a mapping with number, protocol and name", {
  number: port,
  protocol: v.optional(text("a protocol such as HTTP, HTTPS, HTTP2, GRPC or TCP", 1)),
  name: v.optional(text("a port name", 1)),
  targetPort: v.optional(port),
});

const HOST = 'a host name such as api.example.com (no "*")';
const seHost = v.pipe(
  text(HOST, 1),
  v.check(
    (h) => !h.includes("*"),
    "a wildcard host needs resolution NONE (each connection's original destination), which Portico " +
      "does not support; list the host names",
  ),
  v.check(
    (h) => hostProblem(h) === undefined,
    (issue) => hostProblem(String(issue.input)) ?? HOST,
  ),
);

const SpecSchema = v.pipe(
  mapping("a mapping with hosts, ports, resolution and endpoints", {
    hosts: list("a non-empty list of host names", seHost, 1),
    // Virtual IPs that sidecars intercept; a gateway routes by host (a warning says so).
    addresses: v.optional(list("a list of addresses", text("an address", 1))),
    ports: list("a non-empty list of ports, each with number and name", PortSchema, 1),
    // Whether the hosts are inside the mesh; no effect outside a mesh.
    location: v.optional(oneOf(["MESH_EXTERNAL", "MESH_INTERNAL"] as const)),
    resolution: v.optional(resolutionSchema),
    endpoints: v.optional(list("a list of endpoints, each with address", WorkloadSchema)),
    workloadSelector: v.optional(mapping("a mapping with labels", { labels: v.optional(labels) })),
    exportTo: v.optional(list("a list of namespaces", text("a namespace"))),
    subjectAltNames: v.optional(list("a list of subject alternative names", text("a name", 1))),
  }),
  rule((spec, add) => {
    if (!("resolution" in spec))
      add(
        ["resolution"],
        "required field is missing: Istio's default is NONE (each connection's original " +
          "destination), which " +
          "Portico does not support; expected STATIC with endpoints, DNS or DNS_ROUND_ROBIN",
      );
    if ("endpoints" in spec && "workloadSelector" in spec)
      add(["workloadSelector"], "endpoints and workloadSelector are alternatives: set one of them");
    if (spec.resolution === "STATIC" && !("endpoints" in spec) && !("workloadSelector" in spec))
      add(["resolution"], "STATIC needs endpoints or a workloadSelector: there is no address to send to");
    if (Array.isArray(spec.ports) && spec.ports.length > 1)
      add(
        ["ports", 1],
        "a Portico service has one port, and this ServiceEntry lists several; keep the port the gateway " +
          "routes to (or write one ServiceEntry per port, with distinct hosts)",
      );
  }),
);

/** A WorkloadEntry document, with where it was written. */
export interface WorkloadEntry {
  name: string;
  spec: RawWorkload;
  doc: IstioDoc;
}

/** A WorkloadEntry document's spec; undefined when it has problems (reported). */
export function readWorkloadEntry(doc: IstioDoc): WorkloadEntry | undefined {
  const spec = validate(WorkloadSchema, doc.raw.spec ?? {}, ["spec"], doc.ctx);
  return spec && { name: doc.name, spec, doc };
}

/** What a ServiceEntry made: services by host, and the SANs its endpoints' certificates carry. */
export interface TranslatedServiceEntry {
  services: ServiceConfig[];
  subjectAltNames?: string[];
  /** The port's protocol says the endpoints speak TLS (HTTPS or TLS). */
  tlsPort: boolean;
  /** The WorkloadEntry documents its workloadSelector selected. */
  selected: WorkloadEntry[];
}

/** A WorkloadEntry no ServiceEntry selects sends nothing anywhere: a warning, as a likely mistake. */
export function warnUnselected(workload: WorkloadEntry): void {
  const labels = Object.entries(workload.spec.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  workload.doc.ctx.report(
    [],
    `WorkloadEntry "${workload.name}" (labels: ${labels.join(", ") || "none"}) is selected by no ` +
      "ServiceEntry workloadSelector; it receives no traffic",
    "warning",
  );
}

/**
 * For a ServiceEntry whose port speaks TLS (protocol HTTPS or TLS) and whose service ended up
 * without upstream TLS: Istio passes the client's own TLS through such a port; a gateway's HTTP
 * routes would send plain HTTP to it. A warning, once DestinationRules are applied.
 */
export function warnPlainToTlsPort(doc: IstioDoc, service: ServiceConfig): void {
  if (service.tls) return;
  doc.ctx.report(
    ["spec", "ports", 0, "protocol"],
    `the endpoints of "${service.name}" speak TLS, but HTTP routes would reach them in plain HTTP; add a ` +
      "DestinationRule with tls mode SIMPLE (TLS origination), or use the port from tls routes only",
    "warning",
  );
}

/** A ServiceEntry → one service per host; undefined when it has problems (reported). */
export function translateServiceEntry(
  doc: IstioDoc,
  workloads: WorkloadEntry[],
): TranslatedServiceEntry | undefined {
  const spec = validate(SpecSchema, doc.raw.spec ?? {}, ["spec"], doc.ctx);
  if (!spec) return undefined;
  const ctx = doc.ctx;
  if (spec.addresses !== undefined)
    ctx.report(
      ["spec", "addresses"],
      "ignored: virtual IPs are for sidecars that intercept connections; Portico routes by host",
      "warning",
    );
  const servicePort = spec.ports[0]!;
  const resolution = spec.resolution as Resolution;
  /** Istio: the endpoint's port for the service port's name, else targetPort, else the number. */
  const portOf = (w: RawWorkload) =>
    (servicePort.name !== undefined ? w.ports?.[servicePort.name] : undefined) ??
    servicePort.targetPort ??
    servicePort.number;
  const endpoint = (w: RawWorkload, source: Source): EndpointConfig => ({
    address: w.address.toLowerCase(),
    port: portOf(w),
    weight: w.weight || 1,
    labels: w.labels ?? {},
    source,
  });

  let endpoints: EndpointConfig[] | undefined;
  let selected: WorkloadEntry[] = [];
  let addressAt: (i: number) => FieldPath = (i) => ["spec", "endpoints", i, "address"];
  if (spec.endpoints !== undefined) {
    endpoints = spec.endpoints.map((w, i) => endpoint(w, ctx.source(["spec", "endpoints", i])));
  } else if (spec.workloadSelector !== undefined) {
    const selector = spec.workloadSelector.labels ?? {};
    const chosen = workloads.filter((w) => selects(selector, w.spec.labels ?? {}));
    selected = chosen;
    endpoints = chosen.map((w) => endpoint(w.spec, w.doc.ctx.source(["spec"])));
    addressAt = () => ["spec", "workloadSelector"];
    if (chosen.length === 0) {
      const known = workloads.map((w) => w.name).join(", ") || "none";
      ctx.report(
        ["spec", "workloadSelector"],
        `selects no WorkloadEntry document (loaded: ${known}); the service has no endpoints`,
        "warning",
      );
    } else {
      // Each WorkloadEntry reports its own address problems, at its own place.
      chosen.forEach((w) =>
        checkResolution(
          [endpoint(w.spec, w.doc.ctx.source([]))],
          resolution,
          () => ["spec", "address"],
          w.doc.ctx,
        ),
      );
    }
  }

  const services = spec.hosts.map((rawHost, h): ServiceConfig => {
    const host = rawHost.toLowerCase();
    // DNS without endpoints: Istio resolves the hosts themselves.
    const source = ctx.source(["spec", "hosts", h]);
    const port = servicePort.targetPort ?? servicePort.number;
    const own = endpoints ?? [{ address: host, port, weight: 1, labels: {}, source }];
    const url = parseServiceUrl(`http://${host}:${servicePort.number}`);
    const service: ServiceConfig = {
      name: host,
      url: url.ok ? url.origin : `http://${host}`,
      host,
      port: servicePort.number,
      source,
      endpoints: own,
      resolution,
    };
    if (speaksHttp2(servicePort)) service.protocol = "http2";
    return service;
  });
  if (spec.endpoints !== undefined) checkResolution(endpoints!, resolution, addressAt, ctx);
  return {
    services,
    ...(spec.subjectAltNames?.length ? { subjectAltNames: spec.subjectAltNames } : {}),
    tlsPort: ["HTTPS", "TLS"].includes(servicePort.protocol?.toUpperCase() ?? ""),
    selected,
  };
}

/** `service "x" is already defined at FILE:LINE (path)`, for a ServiceEntry host that clashes. */
export function alreadyDefined(service: ServiceConfig): string {
  return `service "${service.name}" is already defined at ${placeOf(service.source)}`;
}

/**
 * Istio's port protocol selection: `protocol` (HTTP2, GRPC), or when it is unset the port name's
 * prefix (`grpc`, `grpc-web`, `http2`, as in `grpc-api`), says the endpoints speak HTTP/2.
 */
function speaksHttp2(port: { protocol?: string; name?: string }): boolean {
  const protocol = port.protocol?.toUpperCase();
  if (protocol !== undefined) return protocol === "HTTP2" || protocol === "GRPC";
  return /^(grpc|http2)(-|$)/i.test(port.name ?? "");
}
