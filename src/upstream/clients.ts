// One upstream client (and so one connection pool) per service and TLS settings, made on first
// use: a reload that changes a service's TLS gets a new client, one that keeps it keeps the client.
import type { UpstreamClient, UpstreamTarget, UpstreamTls } from "./types.ts";

export class UpstreamClients {
  private readonly byKey = new Map<string, UpstreamClient>();
  /** The settings objects of the plans seen so far: the request path looks them up by identity. */
  private readonly byTls = new WeakMap<UpstreamTls, UpstreamClient>();
  private shared: UpstreamClient | undefined;

  constructor(private readonly factory: (tls?: UpstreamTls) => UpstreamClient) {}

  for(upstream: UpstreamTarget): UpstreamClient {
    const tls = upstream.tls;
    if (!tls) return (this.shared ??= this.factory());
    let client = this.byTls.get(tls);
    if (client) return client;
    const key = `${upstream.service}\0${JSON.stringify(tls)}`;
    client = this.byKey.get(key);
    if (!client) this.byKey.set(key, (client = this.factory(tls)));
    this.byTls.set(tls, client);
    return client;
  }
}
