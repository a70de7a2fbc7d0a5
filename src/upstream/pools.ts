// One running Pool per pool key (`service` or `service/subset`), as clients.ts keeps one client
// per service: created from the spec the Plan carries, updated in place on reload (endpoints
// that stay keep their state: ejections, check results, tries in flight), closed when the key
// leaves the configuration.
import { Pool, type PoolEvent, type PoolOptions, type PoolSnapshot } from "./pool/pool.ts";
import type { PoolSpec } from "./pool/types.ts";

export class UpstreamPools {
  private readonly pools = new Map<string, { pool: Pool; spec: PoolSpec }>();

  constructor(private readonly options: PoolOptions = {}) {}

  /**
   * The pool for `spec` (keyed by `spec.service`), made on first use. A spec from a plan that
   * `apply` has not seen (a handler built without a gateway) starts its pool; an older one never
   * overrides what `apply` set.
   */
  for(spec: PoolSpec): Pool {
    const entry = this.pools.get(spec.service);
    if (entry) return entry.pool;
    const pool = new Pool(spec, this.options);
    this.pools.set(spec.service, { pool, spec });
    return pool;
  }

  /**
   * The pools of a new plan: new keys start (so active checks and DNS run before the first
   * request), changed specs are applied with `update`, keys no longer present are closed.
   */
  apply(specs: Iterable<PoolSpec>): void {
    const wanted = new Set<string>();
    for (const spec of specs) {
      wanted.add(spec.service);
      const entry = this.pools.get(spec.service);
      if (!entry) this.for(spec);
      else if (JSON.stringify(entry.spec) !== JSON.stringify(spec)) {
        entry.pool.update(spec);
        entry.spec = spec;
      }
    }
    for (const [key, entry] of this.pools) {
      if (wanted.has(key)) continue;
      entry.pool.close();
      this.pools.delete(key);
    }
  }

  /** Every pool's state, in key order. */
  snapshot(): PoolSnapshot[] {
    return [...this.pools.keys()].sort().map((k) => this.pools.get(k)!.pool.snapshot());
  }

  close(): void {
    for (const { pool } of this.pools.values()) pool.close();
    this.pools.clear();
  }
}

export type { PoolEvent };
