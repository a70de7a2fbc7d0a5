// Two listeners may not bind the same port on overlapping addresses: checked within routes.yaml
// and again across every source, with one rule and one message.

import type { ListenerConfig } from "./model.ts";
import { placeOf } from "./report.ts";

/** Addresses that bind every interface, so they clash with any other address on the port. */
const ANY_ADDRESS = new Set(["0.0.0.0", "::"]);

/** Why `listener` cannot bind beside `earlier`, or undefined. */
export function portClash(
  listener: { address: string; port: number },
  earlier: ListenerConfig[],
): string | undefined {
  const { address, port } = listener;
  const overlaps = (other: string) => other === address || ANY_ADDRESS.has(other) || ANY_ADDRESS.has(address);
  const other = earlier.find((o) => o.port === port && overlaps(o.address));
  if (!other) return undefined;
  const by = `listener "${other.name}" on ${other.address} at ${placeOf(other.source)}`;
  return `port ${port} on ${address} is already used by ${by}`;
}
