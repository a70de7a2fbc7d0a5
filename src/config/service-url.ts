// A service's URL (routes.yaml `services`, or `--service name=url`): what is accepted and the
// form the model keeps. One parser, so both ways in accept the same URLs.

/** Where a service lives, as the model keeps it. */
export interface ServiceAddress {
  /**
   * Scheme, host and port, without a trailing "/" or a default port, so upstream code can append
   * paths as is.
   */
  origin: string;
  /** The host to connect to; an IPv6 address without its brackets. */
  host: string;
  /** The port to connect to; http's and https's default when the URL names none. */
  port: number;
  /** HTTP/2 to the upstream (an h2c:// or h2:// URL); absent: HTTP/1.1. */
  protocol?: "http2";
}

export type ServiceUrl = ({ ok: true } & ServiceAddress) | { ok: false; problem: string };

/**
 * The service's origin, host and port, or why it is not a service URL. A tcp:// URL has no origin
 * ("null"): its scheme, host and port are kept as written.
 */
export function parseServiceUrl(value: string): ServiceUrl {
  // h2c:// is cleartext HTTP/2 with prior knowledge, h2:// HTTP/2 over TLS (ALPN h2): the same
  // origins as http:// and https://, so `--service`, which has no other field, can ask for them.
  const h2 = /^h2c?:\/\//i.exec(value);
  if (h2) {
    const plain = h2[0].length === 6;
    const parsed = parseServiceUrl((plain ? "http://" : "https://") + value.slice(h2[0].length));
    return parsed.ok ? { ...parsed, protocol: "http2" } : parsed;
  }
  if (/^(h3|http3|quic):/i.test(value)) return { ok: false, problem: HTTP3_REFUSED };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, problem: "not a URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:" && url.protocol !== "tcp:") {
    return { ok: false, problem: "not http, https, h2c, h2 or tcp" };
  }
  if (url.hostname === "") return { ok: false, problem: "no host" };
  // Services name where to connect; paths belong to routes, and a base path would be dropped.
  // (A tcp:// URL has no special path: "" rather than "/".)
  if ((url.pathname !== "/" && url.pathname !== "") || value.includes("?") || value.includes("#")) {
    return { ok: false, problem: "has a path or query" };
  }
  if (url.protocol === "tcp:" && url.port === "") return { ok: false, problem: "a tcp:// URL needs a port" };
  const origin = url.protocol === "tcp:" ? `tcp://${url.host}` : url.origin;
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { ok: true, origin, host, port };
}

/** Why a config that asks for HTTP/3 is refused (service URL, service protocol, Gateway port). */
export const HTTP3_REFUSED =
  "HTTP/3 (QUIC) is not supported: no runtime Portico runs on has a QUIC server or client in " +
  "its standard library; use HTTP2 (h2 over TLS) instead";
