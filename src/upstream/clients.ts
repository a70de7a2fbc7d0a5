// One upstream client (and so one connection pool) per service, protocol and TLS settings, made
// on first use: a reload that changes a service's TLS gets a new client, one that keeps it keeps
// the client.
import type { UpstreamClient, UpstreamProtocol, UpstreamTarget, UpstreamTls } from "./types.ts";

export class UpstreamClients {
  private readonly byKey = new Map<string, UpstreamClient>();
  /** The settings objects of the plans seen so far: the request path looks them up by identity. */
  private readonly byTls = new WeakMap<UpstreamTls, UpstreamClient>();
  private shared: UpstreamClient | undefined;
  private sharedH2: UpstreamClient | undefined;
  private sharedAuto: UpstreamClient | undefined;

  constructor(private readonly factory: (tls?: UpstreamTls, protocol?: UpstreamProtocol) => UpstreamClient) {}

  for(upstream: UpstreamTarget): UpstreamClient {
    const { tls, protocol } = upstream;
    if (!tls) {
      if (protocol === "http2") return (this.sharedH2 ??= this.factory(undefined, protocol));
      if (protocol === "auto") return (this.sharedAuto ??= this.factory(undefined, protocol));
      return (this.shared ??= this.factory());
    }
    // A settings object belongs to one service, and so to one protocol.
    let client = this.byTls.get(tls);
    if (client) return client;
    const key = `${upstream.service}\0${protocol ?? "http1"}\0${JSON.stringify(tls)}`;
    client = this.byKey.get(key);
    if (!client) this.byKey.set(key, (client = this.factory(tls, protocol)));
    this.byTls.set(tls, client);
    return client;
  }
}
