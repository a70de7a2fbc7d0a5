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
}

export type ServiceUrl = ({ ok: true } & ServiceAddress) | { ok: false; problem: string };

/**
 * The service's origin, host and port, or why it is not a service URL. A tcp:// URL has no origin
 * ("null"): its scheme, host and port are kept as written.
 */
export function parseServiceUrl(value: string): ServiceUrl {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, problem: "not a URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:" && url.protocol !== "tcp:") {
    return { ok: false, problem: "not http, https or tcp" };
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
