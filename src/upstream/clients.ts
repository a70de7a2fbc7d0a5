// One upstream client (and so one connection pool) per service, made on first use.
import type { UpstreamClient, UpstreamTarget, UpstreamTls } from "./types.ts";

export class UpstreamClients {
  private readonly byService = new Map<string, UpstreamClient>();
  private shared: UpstreamClient | undefined;

  constructor(private readonly factory: (tls?: UpstreamTls) => UpstreamClient) {}

  for(upstream: UpstreamTarget): UpstreamClient {
    if (!upstream.tls) return (this.shared ??= this.factory());
    let client = this.byService.get(upstream.service);
    if (!client) this.byService.set(upstream.service, (client = this.factory(upstream.tls)));
    return client;
  }
}
