// One upstream client (and so one connection pool) per service, protocol, TLS settings and
// connection settings (a pool's connectionPool: connection-settings.ts), made on first use: a
// reload that changes them gets a new client, one that keeps them keeps the client. Services
// with neither TLS nor connection settings share one client per protocol.
import { connectionSettings } from "./connection-settings.ts";
import type {
  UpstreamClient,
  UpstreamConnection,
  UpstreamProtocol,
  UpstreamTarget,
  UpstreamTls,
} from "./types.ts";

export type ClientFactory = (
  tls?: UpstreamTls,
  protocol?: UpstreamProtocol,
  connection?: UpstreamConnection,
) => UpstreamClient;

export class UpstreamClients {
  private readonly byKey = new Map<string, UpstreamClient>();
  /** The settings objects of the plans seen so far: the request path looks them up by identity. */
  private readonly byTls = new WeakMap<UpstreamTls, UpstreamClient>();
  /** Likewise the pools of the plans seen so far (a pool belongs to one service or subset). */
  private readonly byPool = new WeakMap<object, UpstreamClient>();
  private shared: UpstreamClient | undefined;
  private sharedH2: UpstreamClient | undefined;
  private sharedAuto: UpstreamClient | undefined;

  constructor(private readonly factory: ClientFactory) {}

  for(upstream: UpstreamTarget): UpstreamClient {
    const { pool } = upstream;
    // A direct service (one URL, no policy) has no pool: the path below is the one before pools.
    if (pool !== undefined) return this.byPool.get(pool) ?? this.forPool(upstream, pool);
    return this.withoutSettings(upstream);
  }

  private forPool(upstream: UpstreamTarget, pool: NonNullable<UpstreamTarget["pool"]>): UpstreamClient {
    const connection = connectionSettings(pool.spec.connectionPool);
    const client = connection ? this.keyed(upstream, connection) : this.withoutSettings(upstream);
    this.byPool.set(pool, client);
    return client;
  }

  private withoutSettings(upstream: UpstreamTarget): UpstreamClient {
    const { tls, protocol } = upstream;
    if (!tls) {
      if (protocol === "http2") return (this.sharedH2 ??= this.factory(undefined, protocol));
      if (protocol === "auto") return (this.sharedAuto ??= this.factory(undefined, protocol));
      return (this.shared ??= this.factory());
    }
    // A settings object belongs to one service, and so to one protocol.
    let client = this.byTls.get(tls);
    if (client) return client;
    client = this.keyed(upstream);
    this.byTls.set(tls, client);
    return client;
  }

  private keyed(upstream: UpstreamTarget, connection?: UpstreamConnection): UpstreamClient {
    const { tls, protocol } = upstream;
    const key = [
      upstream.service,
      protocol ?? "http1",
      JSON.stringify(tls ?? null),
      JSON.stringify(connection ?? null),
    ];
    const k = key.join("\0");
    let client = this.byKey.get(k);
    if (!client) this.byKey.set(k, (client = this.factory(tls, protocol, connection)));
    return client;
  }
}
