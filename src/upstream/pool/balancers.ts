// The load balancers, Envoy's (source/extensions/load_balancing_policies/*): each chooses among
// the hosts the pool hands it (the healthy ones, or all in panic) and is built again whenever
// that set changes, as Envoy rebuilds its per-host-set state.
import { pickWeighted } from "../../util/random.ts";
import { xxHash64 } from "./hash.ts";
import type { LoadBalancerSpec } from "./types.ts";

/** What a balancer needs of an endpoint. */
export interface Balanced {
  /** `address:port` (`[v6]:port`): what Envoy hashes to place a host on the ring. */
  readonly key: string;
  readonly weight: number;
  /** Requests in flight, for LEAST_REQUEST. */
  readonly active: number;
}

export interface Balancer<E extends Balanced> {
  /**
   * The next host. `attempt` counts picks for one try that were refused (an excluded previous
   * host): stateful balancers simply move on; the ring walks on from the key's entry.
   */
  pick(hash: bigint | undefined, attempt: number): E | undefined;
}

export interface BalancerOptions {
  random: () => number;
  /**
   * Ring entry hashes per host key, kept by the pool across rebuilds: an ejection rebuilds the
   * ring, and hashing ~1024 entries again would cost milliseconds; sorting them costs far less.
   */
  ringCache?: Map<string, bigint[]>;
}

export function createBalancer<E extends Balanced>(
  spec: LoadBalancerSpec,
  hosts: readonly E[],
  opts: BalancerOptions,
): Balancer<E> {
  const usable = hosts.filter((h) => h.weight > 0);
  switch (spec.kind) {
    case "ROUND_ROBIN":
      return roundRobin(usable);
    case "LEAST_REQUEST":
      return leastRequest(usable, opts.random);
    case "RANDOM":
      return random(usable, opts.random);
    case "CONSISTENT_HASH":
      return ringHash(usable, spec.minimumRingSize ?? 1024, opts.random, opts.ringCache);
  }
}

/**
 * Earliest-deadline-first scheduling, Envoy's weighted round robin (source/common/upstream/
 * edf_scheduler.h): each host is due again 1/weight after it was last picked; ties go in order,
 * so equal weights are plain round robin. `weightOf` is read when a host is (re)scheduled, which
 * is how LEAST_REQUEST's weights follow the load.
 */
class Edf<E> {
  private heap: { deadline: number; order: number; item: E }[] = [];
  private now = 0;
  private seq = 0;
  constructor(
    items: readonly E[],
    private readonly weightOf: (e: E) => number,
  ) {
    for (const item of items) this.push(item);
  }
  private push(item: E): void {
    const w = Math.max(this.weightOf(item), 1e-9);
    this.heap.push({ deadline: this.now + 1 / w, order: this.seq++, item });
    let i = this.heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  next(): E | undefined {
    const top = this.heap[0];
    if (!top) return undefined;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.heap.length && this.before(l, m)) m = l;
        if (r < this.heap.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    this.now = top.deadline;
    this.push(top.item);
    return top.item;
  }
  private before(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.deadline < y.deadline || (x.deadline === y.deadline && x.order < y.order);
  }
  private swap(a: number, b: number): void {
    const t = this.heap[a]!;
    this.heap[a] = this.heap[b]!;
    this.heap[b] = t;
  }
}

function roundRobin<E extends Balanced>(hosts: readonly E[]): Balancer<E> {
  const edf = new Edf(hosts, (h) => h.weight);
  return { pick: () => edf.next() };
}

/**
 * Envoy's LEAST_REQUEST: with equal weights, the better of two random choices (choice_count 2,
 * ties keep the first); with unequal weights, EDF on weight / (active + 1)^active_request_bias,
 * bias 1.0 (least_request_lb.cc).
 */
function leastRequest<E extends Balanced>(hosts: readonly E[], rand: () => number): Balancer<E> {
  const equal = hosts.every((h) => h.weight === hosts[0]!.weight);
  if (!equal) {
    const edf = new Edf(hosts, (h) => h.weight / (h.active + 1));
    return { pick: () => edf.next() };
  }
  return {
    pick() {
      if (hosts.length === 0) return undefined;
      let best: E | undefined;
      for (let i = 0; i < 2; i++) {
        const h = hosts[Math.floor(rand() * hosts.length) % hosts.length]!;
        if (!best || h.active < best.active) best = h;
      }
      return best;
    },
  };
}

/** RANDOM, weighted (Envoy's random LB honours host weights). */
function random<E extends Balanced>(hosts: readonly E[], rand: () => number): Balancer<E> {
  const choice = { upstreams: hosts, totalWeight: hosts.reduce((a, h) => a + h.weight, 0) };
  return { pick: () => pickWeighted(choice, rand) };
}

/**
 * Envoy's RING_HASH (ring_hash_lb.cc), Istio's default for consistentHash. Chosen over Maglev
 * because it is what Istio configures unless `maglev` is asked for, and adding a host moves only
 * the keys that fall on its new entries (about 1/n of them). Each host gets
 * scale × normalized weight entries, hashed with xxHash64 from `address:port_i`, where scale
 * makes the lightest host's share a whole number of the minimum ring size (1024, Envoy's and
 * Istio's default), capped at Envoy's maximum of 8M. A key goes to the first entry whose hash is
 * at or above its own, wrapping round; a key-less request goes to a random entry.
 */
export function ringHash<E extends Balanced>(
  hosts: readonly E[],
  minimumRingSize: number,
  rand: () => number,
  cache: Map<string, bigint[]> = new Map(),
): Balancer<E> & { readonly size: number } {
  const total = hosts.reduce((a, h) => a + h.weight, 0);
  const hashes: bigint[] = [];
  const owners: E[] = [];
  if (total > 0) {
    const minWeight = Math.min(...hosts.map((h) => h.weight / total));
    const scale = Math.min(Math.ceil(minWeight * minimumRingSize) / minWeight, 8 * 1024 * 1024);
    const entries: { hash: bigint; host: E }[] = [];
    let current = 0;
    let target = 0;
    for (const host of hosts) {
      target += (scale * host.weight) / total;
      let known = cache.get(host.key);
      if (!known) cache.set(host.key, (known = []));
      for (let i = 0; current < target; i++, current++) {
        known[i] ??= xxHash64(`${host.key}_${i}`);
        entries.push({ hash: known[i]!, host });
      }
    }
    entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    for (const e of entries) {
      hashes.push(e.hash);
      owners.push(e.host);
    }
  }
  const distinct = new Set(owners).size;
  return {
    size: hashes.length,
    pick(hash, attempt) {
      if (hashes.length === 0) return undefined;
      let i = hash === undefined ? Math.floor(rand() * hashes.length) : lowerBound(hashes, hash);
      if (i === hashes.length) i = 0;
      // A retry that must avoid earlier hosts walks on to the attempt-th other host, so it stays
      // as sticky as it can (the same key retries on the same second host every time).
      const seen = new Set<E>([owners[i]!]);
      while (seen.size <= Math.min(attempt, distinct - 1)) {
        i = (i + 1) % hashes.length;
        seen.add(owners[i]!);
      }
      return owners[i];
    },
  };
}

function lowerBound(sorted: readonly bigint[], x: bigint): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
