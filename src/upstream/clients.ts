// One upstream client (and so one connection pool) per service, made on first use.
import type { UpstreamClient, UpstreamProtocol, UpstreamTarget, UpstreamTls } from "./types.ts";

export class UpstreamClients {
  private readonly byService = new Map<string, UpstreamClient>();
  private shared: UpstreamClient | undefined;
  private sharedH2: UpstreamClient | undefined;

  constructor(private readonly factory: (tls?: UpstreamTls, protocol?: UpstreamProtocol) => UpstreamClient) {}

  for(upstream: UpstreamTarget): UpstreamClient {
    const { tls, protocol } = upstream;
    if (!tls) {
      if (protocol === "http2") return (this.sharedH2 ??= this.factory(undefined, protocol));
      return (this.shared ??= this.factory());
    }
    let client = this.byService.get(upstream.service);
    if (!client) this.byService.set(upstream.service, (client = this.factory(tls, protocol)));
    return client;
  }
}
