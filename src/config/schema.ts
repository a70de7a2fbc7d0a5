// The shape of routes.yaml as written, before defaults and cross-references (see load.ts).
// Every schema carries its own "expected ..." text so that messages say what to write
// instead of valibot's generic "Invalid type".

import * as v from "valibot";
import { isIP } from "node:net";
import {
  checked,
  describeValue,
  duration,
  expecting,
  got,
  headerValue,
  integer,
  list,
  mapping,
  namedMap,
  oneOf,
  rule,
  text,
} from "./schema-kit.ts";
import { HttpRouteSchema } from "./http-route.ts";
import { serverTlsIssues, sharedServerTlsFields } from "./tls-settings.ts";

const ADMIN = 'the admin listener address, ADDR:PORT such as 127.0.0.1:15000, or "off"';
const HOST = 'a host name, "*.suffix" or "*"';
const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** Why `host` is not a host pattern (a name, `*.suffix` or `*`), or undefined when it is one. */
export function hostProblem(host: string): string | undefined {
  const invalid = `invalid host ${JSON.stringify(host)}`;
  if (/\s/.test(host)) return `${invalid}: spaces are not allowed`;
  if (host.includes("://")) return `${invalid}: write the host name alone, without a scheme`;
  if (host.includes("/")) return `${invalid}: write the host name alone, without a path`;
  if (host.includes(":")) return `${invalid}: write the host name alone, without a port`;
  if (host === "*") return undefined;
  const name = host.startsWith("*.") ? host.slice(2) : host;
  if (name.includes("*")) {
    return `${invalid}: a wildcard is only allowed as the whole first label, as in "*.example.com"`;
  }
  const labels = name.split(".");
  if (name.length > 253 || !labels.every((label) => HOST_LABEL.test(label))) {
    return `${invalid}: expected ${HOST}`;
  }
  return undefined;
}

function urlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "not a URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:" && url.protocol !== "tcp:") return "not http, https or tcp";
  if (url.hostname === "") return "no host";
  // Services name where to connect; paths belong to routes, and a base path would be dropped.
  // (A tcp:// URL has no special path: "" rather than "/".)
  if ((url.pathname !== "/" && url.pathname !== "") || value.includes("?") || value.includes("#")) return "has a path or query";
  if (url.protocol === "tcp:" && url.port === "") return "a tcp:// URL needs a port";
  return undefined;
}

const SERVICE_URL = "an http://, https:// or tcp:// URL with a host and no path or query, such as http://127.0.0.1:9080";
const serviceUrl = checked(SERVICE_URL, (value) => {
  const problem = urlProblem(value);
  if (problem === undefined) return undefined;
  return `expected ${SERVICE_URL}, got ${describeValue(value)}${problem.startsWith("a tcp") ? ` (${problem})` : ""}`;
});

const ADDRESS = "an IP address such as 0.0.0.0 or 127.0.0.1";
const address = checked(ADDRESS, (value) =>
  isIP(value) === 0 ? `expected ${ADDRESS}, got ${describeValue(value)}` : undefined,
);

const host = checked(HOST, hostProblem);
const hosts = list(`a non-empty list of host names ("name", "*.suffix" or "*")`, host, 1);

// Istio's ServerTLSSettings (https://istio.io/latest/docs/reference/config/networking/gateway/#ServerTLSSettings);
// which fields go with which mode and protocol is checked in tls-settings.ts.
const TlsSchema = mapping("a mapping with mode and credential", {
  mode: v.optional(oneOf(["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL", "PASSTHROUGH"] as const)),
  credential: v.optional(text("the name of an entry in credentials", 1)),
  ...sharedServerTlsFields(),
});

const ServerSchema = mapping("a mapping with hosts and tls", { hosts, tls: TlsSchema });

const ListenerSchema = v.pipe(
  mapping("a mapping with port and protocol", {
    name: v.optional(text("a non-empty listener name", 1)),
    port: integer("an integer 1..65535", 1, 65535),
    address: v.optional(address),
    protocol: oneOf(["HTTP", "HTTPS", "TCP", "TLS"] as const),
    hosts: v.optional(hosts),
    httpsRedirect: v.optional(expecting("true or false", v.boolean(got("true or false")))),
    servers: v.optional(list("a non-empty list of servers, each with hosts and tls", ServerSchema, 1)),
    forwardClientCertDetails: v.optional(oneOf(["SANITIZE", "FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET", "ALWAYS_FORWARD_ONLY"] as const)),
    setCurrentClientCertDetails: v.optional(list("a list of Subject, URI, DNS, Cert, Chain", oneOf(["Subject", "URI", "DNS", "Cert", "Chain"] as const))),
    clientCertHeaders: v.optional(expecting("true or false", v.boolean(got("true or false")))),
  }),
  rule((listener, add) => {
    if (listener.protocol === "HTTPS" || listener.protocol === "TLS") {
      const p = listener.protocol === "TLS" ? "a TLS" : "an HTTPS";
      if (!("servers" in listener)) {
        add(["servers"], `required for ${p} listener; expected a non-empty list of servers, each with hosts and tls`);
      }
      if ("hosts" in listener) add(["hosts"], `only allowed on HTTP and TCP listeners; ${p} listener lists hosts under servers`);
      if ("httpsRedirect" in listener) add(["httpsRedirect"], "only allowed on HTTP listeners");
    } else if ((listener.protocol === "HTTP" || listener.protocol === "TCP") && "servers" in listener) {
      add(["servers"], `only allowed on HTTPS and TLS listeners; ${listener.protocol === "TCP" ? "a TCP" : "an HTTP"} listener lists its hosts under hosts`);
    }
    if (listener.protocol === "TCP" && "httpsRedirect" in listener) add(["httpsRedirect"], "only allowed on HTTP listeners");
    if (listener.protocol === "TCP" || listener.protocol === "TLS") {
      for (const k of ["forwardClientCertDetails", "setCurrentClientCertDetails", "clientCertHeaders"]) {
        if (k in listener) add([k], "only allowed on HTTP and HTTPS listeners: it sets request headers");
      }
    }
    if (Array.isArray(listener.servers)) serverTlsIssues(String(listener.protocol), listener.servers, add);
  }),
);

const path = text("a file path", 1);
const CredentialFilesSchema = mapping("a folder path or a mapping with cert, key and optional ca", {
  cert: path,
  key: path,
  ca: v.optional(path),
});
const CredentialSchema = v.lazy((input) =>
  typeof input === "string" ? text("a folder holding tls.crt and tls.key", 1) : CredentialFilesSchema,
);

// An HTTPS upstream with its own trust anchors and, for mutual TLS, a client certificate.
const ServiceTlsSchema = mapping("a mapping with optional ca, cert, key and serverName", {
  ca: v.optional(path),
  cert: v.optional(path),
  key: v.optional(path),
  serverName: v.optional(text("a host name sent as SNI and checked against the upstream's certificate", 1)),
});
const ServiceObjectSchema = v.pipe(
  mapping("a URL, or a mapping with url and optional tls", { url: serviceUrl, tls: v.optional(ServiceTlsSchema) }),
  rule((service, add) => {
    const tls = service.tls as Record<string, unknown> | undefined;
    if (tls && ("cert" in tls) !== ("key" in tls)) add(["tls"], "cert and key go together: set both or neither");
    if (tls && typeof service.url === "string" && !service.url.startsWith("https:")) add(["tls"], "only allowed with an https:// url");
  }),
);
const ServiceSchema = v.lazy((input) => (typeof input === "string" ? serviceUrl : ServiceObjectSchema));

const DestinationSchema = mapping("a mapping with destination and optional weight", {
  destination: text("the name of an entry in services", 1),
  weight: v.optional(integer("an integer >= 0", 0, Number.MAX_SAFE_INTEGER)),
});

// HTTP routes (Istio's HTTPRoute): HttpRouteSchema comes from http-route.ts, shared with the
// Istio VirtualService loader.

// Istio's TCPRoute and TLSRoute; of the L4 match attributes, port (and sniHosts) are honoured.
const l4Port = integer("an integer 1..65535", 1, 65535);
const TcpRouteSchema = mapping("a mapping with match and route", {
  match: v.optional(list("a list of match conditions", mapping("a mapping with port", { port: v.optional(l4Port) }))),
  route: list("a non-empty list of destinations", DestinationSchema, 1),
});
const TlsRouteSchema = mapping("a mapping with match and route", {
  match: list(
    "a non-empty list of match conditions, each with sniHosts",
    mapping("a mapping with sniHosts and optional port", {
      sniHosts: list('a non-empty list of SNI names ("name", "*.suffix" or "*")', host, 1),
      port: v.optional(l4Port),
    }),
    1,
  ),
  route: list("a non-empty list of destinations", DestinationSchema, 1),
});

const VirtualHostSchema = v.pipe(
  mapping("a mapping with hosts and http", {
    hosts,
    http: v.optional(list("a non-empty list of HTTP routes", HttpRouteSchema, 1)),
    tcp: v.optional(list("a non-empty list of TCP routes", TcpRouteSchema, 1)),
    tls: v.optional(list("a non-empty list of TLS routes", TlsRouteSchema, 1)),
  }),
  rule((entry, add) => {
    if (!("http" in entry) && !("tcp" in entry) && !("tls" in entry)) add(["http"], "required field is missing; expected a non-empty list of HTTP routes (or tcp, or tls routes)");
  }),
);

export const ConfigSchema = mapping("a mapping with listeners, services and routes", {
  settings: v.optional(
    mapping("a mapping with timeout, serverHeader and admin", {
      timeout: v.optional(duration),
      serverHeader: v.optional(headerValue),
      admin: v.optional(checked(ADMIN, (value) => (/^(off|(\[[0-9a-fA-F:.]+\]|[0-9.]*):\d{1,5})$/.test(value) ? undefined : `expected ${ADMIN}, got ${describeValue(value)}`))),
    }),
  ),
  listeners: list("a non-empty list of listeners", ListenerSchema, 1),
  credentials: v.optional(namedMap("a mapping of credential names to folders or files", CredentialSchema)),
  services: v.optional(namedMap("a mapping of service names to URLs", ServiceSchema)),
  routes: v.optional(list("a list of route entries, each with hosts and http", VirtualHostSchema)),
});

export type RawConfig = v.InferOutput<typeof ConfigSchema>;
export type RawListener = RawConfig["listeners"][number];
export type RawVirtualHost = NonNullable<RawConfig["routes"]>[number];

export { describeValue, MAX_TIMEOUT_MS } from "./schema-kit.ts";
