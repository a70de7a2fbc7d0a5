// The validated configuration: plain data, no file contents, no sockets. Produced by
// `loadConfig` from routes.yaml (and, later, Istio documents); consumed by `provision`.
// Every node keeps where it came from so provisioning errors can name file, line and field.

/** Where a value was written: used only for error messages. */
export interface Source {
  file: string;
  /** 1-based line, 0 when unknown. */
  line: number;
  /** Field path, for example `listeners[1].servers[0].tls.credential`. */
  path: string;
}

export type TlsMode = "SIMPLE" | "MUTUAL";

export interface TlsServerConfig {
  hosts: string[];
  mode: TlsMode;
  /** Name of an entry in `credentials`. */
  credential: string;
  source: Source;
}

export interface HttpListenerConfig {
  protocol: "HTTP";
  name: string;
  address: string;
  port: number;
  hosts: string[];
  httpsRedirect: boolean;
  source: Source;
}

export interface HttpsListenerConfig {
  protocol: "HTTPS";
  name: string;
  address: string;
  port: number;
  servers: TlsServerConfig[];
  source: Source;
}

export type ListenerConfig = HttpListenerConfig | HttpsListenerConfig;

export interface CredentialConfig {
  name: string;
  /** Absolute paths, resolved against the config file's folder. */
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to (MUTUAL). */
  ca?: string;
  /**
   * True for the folder form (`name: path/to/dir`), where `ca.crt` may or may not exist, like
   * the optional `ca.crt` key of a Kubernetes TLS secret. Provisioning checks the disk.
   */
  caOptional: boolean;
  /**
   * PEM text given inline (a Kubernetes Secret document): used instead of reading the file of
   * the same role. The file fields then hold a description of where the text came from.
   */
  inline?: { cert?: string; key?: string; ca?: string };
  source: Source;
}

export interface ServiceConfig {
  name: string;
  /** Origin only: scheme, host and port. */
  url: string;
  /** For https:// services: files resolved against the config's folder. */
  tls?: { ca?: string; cert?: string; key?: string; serverName?: string };
  source: Source;
}

export type UriMatch =
  | { kind: "exact"; value: string }
  | { kind: "prefix"; value: string }
  | { kind: "regex"; value: string };

export interface HttpMatchConfig {
  uri?: UriMatch;
}

export interface DestinationConfig {
  /** Name of an entry in `services`. */
  service: string;
  weight: number;
  source: Source;
}

export interface DirectResponseConfig {
  status: number;
  body?: string;
  contentType?: string;
}

export interface HttpRouteConfig {
  name?: string;
  /** Any one of these matches (OR); an empty list matches every request. */
  match: HttpMatchConfig[];
  destinations: DestinationConfig[];
  directResponse?: DirectResponseConfig;
  /** Milliseconds; the whole upstream exchange up to response headers. */
  timeoutMs: number;
  source: Source;
}

export interface VirtualHostConfig {
  hosts: string[];
  /**
   * Names of the listeners these routes attach to; undefined attaches them to every listener
   * (native routes.yaml). An Istio VirtualService attaches only through its `gateways`.
   */
  listeners?: string[];
  http: HttpRouteConfig[];
  source: Source;
}

export interface Config {
  /** Files the configuration was read from, in order. */
  files: string[];
  listeners: ListenerConfig[];
  credentials: Map<string, CredentialConfig>;
  services: Map<string, ServiceConfig>;
  routes: VirtualHostConfig[];
  settings: {
    /** Default route timeout in milliseconds (Envoy's default is 15 s). */
    timeoutMs: number;
    /** Value of the `server` response header; empty string removes it. */
    serverHeader: string;
  };
}
