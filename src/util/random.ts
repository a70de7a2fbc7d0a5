// Random choices: the one weighted choice, for HTTP destinations and TCP/TLS destinations alike,
// and the percentage roll of fault injection and mirroring.

/** A list of weighted destinations with its precomputed weight sum (a ProxyAction, a StreamRoutePlan). */
export interface WeightedChoice<T extends { weight: number }> {
  upstreams: readonly T[];
  totalWeight: number;
}

/**
 * Picks an entry with probability weight / totalWeight, as Envoy's weighted clusters do. A
 * destination of weight 0 is never chosen: Istio leaves it out of the weighted clusters it
 * hands Envoy. When no entry has a weight there is nothing to choose (undefined); the loader
 * refuses such routes ("every destination has weight 0"), as Envoy refuses a weight sum of 0,
 * so only a hand-built plan gets there. (Istio gives a lone destination of weight 0 all the
 * traffic; Portico's loader refuses it instead, so the choice needs no exception for it.)
 */
export function pickWeighted<T extends { weight: number }>(
  choice: WeightedChoice<T>,
  random: () => number = Math.random,
): T | undefined {
  const { upstreams, totalWeight } = choice;
  if (upstreams.length === 1) return upstreams[0]!.weight > 0 ? upstreams[0] : undefined;
  if (totalWeight <= 0) return undefined;
  let ticket = random() * totalWeight;
  for (const u of upstreams) {
    if (u.weight <= 0) continue;
    if (ticket < u.weight) return u;
    ticket -= u.weight;
  }
  // Floating-point leftovers land on the last entry that has a weight.
  return upstreams.findLast((u) => u.weight > 0);
}

/** True for `percentage` out of 100 calls (Istio's Percent: 100 or more is always). */
export function chance(percentage: number): boolean {
  return percentage >= 100 || Math.random() * 100 < percentage;
}
