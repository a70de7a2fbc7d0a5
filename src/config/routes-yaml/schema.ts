// The shape of routes.yaml as written, before defaults and cross-references (see parse.ts).
// Every schema carries its own "expected ..." text so that messages say what to write
// instead of valibot's generic "Invalid type".

import * as v from "valibot";
import { isIP } from "node:net";
import { HttpRouteSchema } from "../http-route-schema.ts";
import { parseDuration } from "../duration.ts";
import {
  checked,
  describeValue,
  duration,
  expecting,
  got,
  headerValue,
  host,
  integer,
  isMapping,
  list,
  mapping,
  namedMap,
  oneOf,
  rule,
  text,
  validateAhead,
} from "../schema-kit.ts";
import type { Steps } from "../../util/slices.ts";
import { serverTlsIssues, sharedServerTlsFields } from "../server-tls.ts";
import { parseAdminAddress } from "../admin-address.ts";
import { HTTP3_REFUSED, parseServiceUrl } from "../service-url.ts";
import { l4RouteSchemas } from "../tcp-route.ts";
import { didYouMean } from "../suggest.ts";
import { PATH_NORMALIZATIONS } from "../../util/path-normalize.ts";
import { REQUEST_TARGET_MODES } from "../defaults.ts";
import { ServiceTlsSchema } from "../upstream-tls.ts";
import { poolServiceFields, poolServiceIssues } from "./pool-service.ts";
import { LimitsSchema, STREAM_LIMITS } from "../limits.ts";

const ADMIN = 'the admin listener address, ADDR:PORT such as 127.0.0.1:15000, or "off"';

// settings.accessLog: `stdout | stderr | off | /path/file` as a string, or a mapping with path
// and format (json, the default, or text: Envoy's default line).
const ACCESS_LOG_PATH = "stdout, stderr, off or a file path";
const accessLogPath = text(ACCESS_LOG_PATH, 1);
const AccessLogSchema = v.union(
  [
    accessLogPath,
    mapping("a mapping with path and format", {
      path: v.optional(accessLogPath),
      format: v.optional(oneOf(["json", "text"] as const)),
    }),
  ],
  `expected ${ACCESS_LOG_PATH}, or a mapping with path and format (json or text)`,
);

const SERVICE_URL =
  "an http://, https://, h2c://, h2:// or tcp:// URL with a host and no path or query, " +
  "such as http://127.0.0.1:9080";
const serviceUrl = checked(SERVICE_URL, (value) => {
  const url = parseServiceUrl(value);
  if (url.ok) return undefined;
  const problem = url.problem;
  if (problem === HTTP3_REFUSED) return problem;
  const detail = problem.startsWith("a tcp") ? ` (${problem})` : "";
  return `expected ${SERVICE_URL}, got ${describeValue(value)}${detail}`;
});

const ADDRESS = "an IP address such as 0.0.0.0 or 127.0.0.1";
const address = checked(ADDRESS, (value) =>
  isIP(value) === 0 ? `expected ${ADDRESS}, got ${describeValue(value)}` : undefined,
);

const hosts = list(`a non-empty list of host names ("name", "*.suffix" or "*")`, host, 1);

// Istio's ServerTLSSettings
// (https://istio.io/latest/docs/reference/config/networking/gateway/#ServerTLSSettings);
// which fields go with which mode and protocol is checked in server-tls.ts.
const TlsSchema = mapping("a mapping with mode and credential", {
  mode: v.optional(oneOf(["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL", "PASSTHROUGH"] as const)),
  credential: v.optional(text("the name of an entry in credentials", 1)),
  ...sharedServerTlsFields(),
});

const ServerSchema = mapping("a mapping with hosts and tls", { hosts, tls: TlsSchema });

/**
 * What a listener believes of a client's forwarding headers (http/forwarded.ts), per listener
 * or in settings: Istio's gatewayTopology.numTrustedProxies and Envoy's
 * preserve_external_request_id.
 */
function trustFields() {
  return {
    numTrustedProxies: v.optional(integer("an integer 0..64", 0, 64)),
    preserveExternalRequestId: v.optional(expecting("true or false", v.boolean(got("true or false")))),
  };
}

const ListenerSchema = v.pipe(
  mapping("a mapping with port and protocol", {
    name: v.optional(text("a non-empty listener name", 1)),
    port: integer("an integer 1..65535", 1, 65535),
    address: v.optional(address),
    protocol: oneOf(["HTTP", "HTTPS", "TCP", "TLS"] as const),
    hosts: v.optional(hosts),
    httpsRedirect: v.optional(expecting("true or false", v.boolean(got("true or false")))),
    servers: v.optional(list("a non-empty list of servers, each with hosts and tls", ServerSchema, 1)),
    forwardClientCertDetails: v.optional(
      oneOf(["SANITIZE", "FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET", "ALWAYS_FORWARD_ONLY"] as const),
    ),
    setCurrentClientCertDetails: v.optional(
      list(
        "a list of Subject, URI, DNS, Cert, Chain",
        oneOf(["Subject", "URI", "DNS", "Cert", "Chain"] as const),
      ),
    ),
    clientCertHeaders: v.optional(expecting("true or false", v.boolean(got("true or false")))),
    ...trustFields(),
    limits: v.optional(LimitsSchema),
  }),
  rule((listener, add) => {
    if (listener.protocol === "HTTPS" || listener.protocol === "TLS") {
      const p = listener.protocol === "TLS" ? "a TLS" : "an HTTPS";
      if (!("servers" in listener)) {
        add(
          ["servers"],
          `required for ${p} listener; expected a non-empty list of servers, each with hosts and tls`,
        );
      }
      if ("hosts" in listener)
        add(["hosts"], `only allowed on HTTP and TCP listeners; ${p} listener lists hosts under servers`);
      if ("httpsRedirect" in listener) add(["httpsRedirect"], "only allowed on HTTP listeners");
    } else if ((listener.protocol === "HTTP" || listener.protocol === "TCP") && "servers" in listener) {
      add(
        ["servers"],
        `only allowed on HTTPS and TLS listeners; ${listener.protocol === "TCP" ? "a TCP" : "an HTTP"} ` +
          `listener lists its hosts under hosts`,
      );
    }
    if (listener.protocol === "TCP" && "httpsRedirect" in listener)
      add(["httpsRedirect"], "only allowed on HTTP listeners");
    if (listener.protocol === "TCP" || listener.protocol === "TLS") {
      for (const k of [
        "forwardClientCertDetails",
        "setCurrentClientCertDetails",
        "clientCertHeaders",
        "numTrustedProxies",
        "preserveExternalRequestId",
      ]) {
        if (k in listener) add([k], "only allowed on HTTP and HTTPS listeners: it sets request headers");
      }
      const limits = listener.limits;
      if (limits !== null && typeof limits === "object") {
        for (const k of Object.keys(limits)) {
          if (!(STREAM_LIMITS as readonly string[]).includes(k))
            add(
              ["limits", k],
              `only allowed on HTTP and HTTPS listeners; a ${listener.protocol} listener takes ` +
                `${STREAM_LIMITS.join(" and ")}`,
            );
        }
      }
    }
    if (Array.isArray(listener.servers)) {
      listener.servers.forEach((server, j) => {
        const tls = (server as { tls?: unknown } | null)?.tls;
        serverTlsIssues(String(listener.protocol), tls, (path, message) =>
          add(["servers", j, "tls", ...path], message),
        );
      });
    }
  }),
);

const path = text("a file path", 1);
const CredentialFilesSchema = mapping("a folder path or a mapping with cert, key and optional ca", {
  cert: path,
  key: path,
  ca: v.optional(path),
});
/** Directory names a person can remember; anything else is the directory's https:// URL. */
export const ACME_DIRECTORIES: Record<string, string> = {
  letsencrypt: "https://acme-v02.api.letsencrypt.org/directory",
  "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
};
const ACME_DIRECTORY = `${Object.keys(ACME_DIRECTORIES).join(", ")} or an https:// URL`;
const AcmeSchema = mapping(
  "a mapping with directory and optional email, caBundle, eab, challenges, keyType, renewBefore",
  {
    directory: checked(ACME_DIRECTORY, (value) =>
      value in ACME_DIRECTORIES || /^https:\/\/[^\s/]+/.test(value)
        ? undefined
        : `expected ${ACME_DIRECTORY}, got ${describeValue(value)}`,
    ),
    email: v.optional(
      checked("an email address", (value) =>
        /^[^@\s]+@[^@\s]+$/.test(value)
          ? undefined
          : `expected an email address, got ${describeValue(value)}`,
      ),
    ),
    caBundle: v.optional(path),
    eab: v.optional(
      mapping("a mapping with kid and hmacKey (base64url, as the CA gave it)", {
        kid: text("the key identifier the CA gave", 1),
        hmacKey: checked("the base64url HMAC key the CA gave", (value) =>
          /^[A-Za-z0-9_-]+=*$/.test(value) ? undefined : "expected the base64url HMAC key the CA gave",
        ),
      }),
    ),
    challenges: v.optional(list("a list of http-01 and tls-alpn-01", oneOf(["http-01", "tls-alpn-01"]), 1)),
    keyType: v.optional(oneOf(["ec", "rsa"])),
    // Not bound by setTimeout's 24.8 days as other durations are: the manager re-arms long waits.
    renewBefore: v.optional(
      checked("a duration such as 720h", (value) =>
        (parseDuration(value) ?? 0) > 0
          ? undefined
          : `expected a duration such as 720h, got ${describeValue(value)}`,
      ),
    ),
  },
);
const CredentialAcmeSchema = mapping("a mapping with acme", { acme: AcmeSchema });
const CredentialSchema = v.lazy((input) =>
  typeof input === "string"
    ? text("a folder holding tls.crt and tls.key", 1)
    : isMapping(input) && "acme" in input
      ? CredentialAcmeSchema
      : CredentialFilesSchema,
);

// Istio's port protocol names, in any case: HTTP2 and GRPC both mean HTTP/2 to the upstream (h2c
// for http://, h2 by ALPN for https://). AUTO: whichever of h2 and http/1.1 the TLS upstream picks
// by ALPN, so it needs TLS.
const SERVICE_PROTOCOLS = ["HTTP", "HTTP2", "GRPC", "AUTO"];
const SERVICE_PROTOCOL = "HTTP, HTTP2, GRPC or AUTO";
const serviceProtocol = checked(SERVICE_PROTOCOL, (value) => {
  if (SERVICE_PROTOCOLS.includes(value.toUpperCase())) return undefined;
  if (/^(HTTP3|H3|QUIC)$/i.test(value)) return HTTP3_REFUSED;
  if (/^GRPC-WEB$/i.test(value))
    return "GRPC-WEB is not supported: Portico does not translate gRPC-Web; use GRPC for a gRPC upstream";
  return `expected ${SERVICE_PROTOCOL}, got ${describeValue(value)}${didYouMean(value, SERVICE_PROTOCOLS)}`;
});
// A service: one URL, with optional tls (upstream-tls.ts) and protocol, or endpoints
// (pool-service.ts); both may carry Istio's traffic policy sections.
const ServiceObjectSchema = v.pipe(
  mapping("a URL, or a mapping with url or endpoints, and optional tls and protocol", {
    url: v.optional(serviceUrl),
    tls: v.optional(ServiceTlsSchema),
    protocol: v.optional(serviceProtocol),
    ...poolServiceFields(),
  }),
  rule((service, add) => {
    const tls = service.tls as Record<string, unknown> | undefined;
    if (tls && typeof service.url === "string" && !/^(https|h2):/i.test(service.url))
      add(["tls"], "only allowed with an https:// or h2:// url");
    const p = typeof service.protocol === "string" ? service.protocol.toUpperCase() : undefined;
    if (p === "HTTP" && typeof service.url === "string" && /^h2c?:/i.test(service.url))
      add(["protocol"], "HTTP contradicts the h2c:// or h2:// url, which asks for HTTP/2");
    if (p && p !== "HTTP" && typeof service.url === "string" && service.url.startsWith("tcp:"))
      add(["protocol"], "a tcp:// service carries bytes, not HTTP");
    if (p === "AUTO") {
      const why = autoRefused(service.url, "endpoints" in service && !tls);
      if (why) add(["protocol"], why);
    }
    poolServiceIssues(service, add, SERVICE_URL);
  }),
);
/** Why AUTO cannot apply to a service with this url (or cleartext endpoints), if it cannot. */
function autoRefused(url: unknown, cleartextEndpoints: boolean): string | undefined {
  const alpn = "AUTO picks HTTP/2 or HTTP/1.1 by ALPN in the TLS handshake";
  const h2c = "use HTTP2 or an h2c:// url for cleartext HTTP/2 (prior knowledge)";
  if (cleartextEndpoints) return `${alpn}, and endpoints without tls are cleartext: add tls, or ${h2c}`;
  if (typeof url !== "string") return undefined;
  if (/^http:/i.test(url)) return `${alpn}, and an http:// url is cleartext, which has no ALPN; ${h2c}`;
  if (/^h2c:/i.test(url))
    return `${alpn}, and h2c:// is cleartext HTTP/2 with prior knowledge; drop protocol to keep h2c`;
  if (/^h2:/i.test(url)) return "AUTO contradicts the h2:// url, which asks for HTTP/2; use an https:// url";
  return undefined;
}
const ServiceSchema = v.lazy((input) => (typeof input === "string" ? serviceUrl : ServiceObjectSchema));

// Istio's TCPRoute and TLSRoute; of the L4 match attributes, port (and sniHosts) are honoured.
const { tcp: TcpRouteSchema, tls: TlsRouteSchema } = l4RouteSchemas();

const VirtualHostSchema = v.pipe(
  mapping("a mapping with hosts and http", {
    hosts,
    http: v.optional(list("a non-empty list of HTTP routes", HttpRouteSchema, 1)),
    tcp: v.optional(list("a non-empty list of TCP routes", TcpRouteSchema, 1)),
    tls: v.optional(list("a non-empty list of TLS routes", TlsRouteSchema, 1)),
  }),
  rule((entry, add) => {
    if (!("http" in entry) && !("tcp" in entry) && !("tls" in entry))
      add(
        ["http"],
        "required field is missing; expected a non-empty list of HTTP routes (or tcp, or tls routes)",
      );
  }),
);

const CONFIG = "a mapping with listeners, services and routes";

const CONFIG_ENTRIES = {
  settings: v.optional(
    mapping(
      "a mapping with timeout, serverHeader, admin, pathNormalization, requestTarget, watch, " +
        "accessLog and limits",
      {
        timeout: v.optional(duration),
        serverHeader: v.optional(headerValue),
        // Istio's MeshConfig.pathNormalization.normalization levels.
        pathNormalization: v.optional(oneOf(PATH_NORMALIZATIONS)),
        requestTarget: v.optional(oneOf(REQUEST_TARGET_MODES)),
        // Reload when a loaded file changes (src/cli/watch.ts); --watch beats it.
        watch: v.optional(expecting("true or false", v.boolean(got("true or false")))),
        admin: v.optional(
          checked(ADMIN, (value) =>
            parseAdminAddress(value) === undefined
              ? `expected ${ADMIN}, got ${describeValue(value)}`
              : undefined,
          ),
        ),
        accessLog: v.optional(AccessLogSchema),
        ...trustFields(),
        // Defaults of every listener's limits (limits.ts); a listener's own block overrides them.
        limits: v.optional(LimitsSchema),
      },
    ),
  ),
  listeners: list("a non-empty list of listeners", ListenerSchema, 1),
  credentials: v.optional(namedMap("a mapping of credential names to folders or files", CredentialSchema)),
  services: v.optional(namedMap("a mapping of service names to URLs", ServiceSchema)),
  routes: v.optional(list("a list of route entries, each with hosts and http", VirtualHostSchema)),
};

export const ConfigSchema = mapping(CONFIG, CONFIG_ENTRIES);

/** Validates the large lists and named maps of one section entry by entry (schema-kit.ts). */
export function* validateSectionAhead(key: string, value: unknown): Steps<void> {
  if (isConfigSection(key)) yield* validateAhead(CONFIG_ENTRIES[key as keyof typeof CONFIG_ENTRIES], value);
}

/** Whether `key` is a section of routes.yaml. */
export const isConfigSection = (key: string) => Object.hasOwn(CONFIG_ENTRIES, key);

/**
 * ConfigSchema with some sections validated already: each is given its output as it is (a
 * reload's unchanged top-level entries, routes-yaml/parse.ts). The sections are independent in
 * the schema (cross-references are checked by the builders), so the others validate as before.
 */
export function configSchemaKeeping(outputs: ReadonlyMap<string, unknown>): typeof ConfigSchema {
  if (outputs.size === 0) return ConfigSchema;
  const entries: v.ObjectEntries = { ...CONFIG_ENTRIES };
  for (const [key, output] of outputs)
    entries[key] = v.pipe(
      v.unknown(),
      v.transform(() => output),
    );
  return mapping(CONFIG, entries) as unknown as typeof ConfigSchema;
}

export type RawConfig = v.InferOutput<typeof ConfigSchema>;
export type RawListener = RawConfig["listeners"][number];
export type RawVirtualHost = NonNullable<RawConfig["routes"]>[number];
