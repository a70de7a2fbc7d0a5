// Rules on listeners shared by routes.yaml and Istio Gateways, each with one wording: a listener
// name is used once, two listeners may not bind one port on overlapping addresses (both checked
// within routes.yaml and again across every source), and a host is served (or passed through) by
// one server per port.

import type { ListenerConfig } from "./model.ts";
import { placeOf, type Reporter } from "./report.ts";
import { runAtOnce, type Steps } from "../util/slices.ts";
import { formatPath, type FieldPath } from "./yaml-locate.ts";

/** Addresses that bind every interface, so they clash with any other address on the port. */
const ANY_ADDRESS = new Set(["0.0.0.0", "::"]);

/** Why a listener may not be called `name` beside `earlier`, or undefined. `chosen`: the default name. */
export function nameClash(name: string, earlier: ListenerConfig[], chosen = false): string | undefined {
  const other = earlier.find((o) => o.name === name);
  if (!other) return undefined;
  const what = chosen ? `name "${name}" (the default for this listener)` : `name "${name}"`;
  const fix = chosen ? "; give one of them a name" : "";
  return `${what} is already used by the listener at ${placeOf(other.source)}${fix}`;
}

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

/**
 * The lower-cased hosts of each server on one port, where each server says where it was written;
 * a host an earlier server already lists is reported (`verb`: "served" or "passed through").
 */
export function hostsOncePerPort(
  servers: { hosts: string[]; at: FieldPath }[],
  port: number,
  ctx: Reporter,
  noun: "host" | "SNI host",
  verb: "served" | "passed through",
): string[][] {
  return runAtOnce(hostsOncePerPortSteps(servers, port, ctx, noun, verb));
}

/** hostsOncePerPort, pausing (`yield`) between servers (10,000 on one port, on a reload). */
export function* hostsOncePerPortSteps(
  servers: { hosts: string[]; at: FieldPath }[],
  port: number,
  ctx: Reporter,
  noun: "host" | "SNI host",
  verb: "served" | "passed through",
): Steps<string[][]> {
  // Where each host was first served; the path is written out only for a message.
  const servedBy = new Map<string, FieldPath>();
  const out: string[][] = [];
  for (const { hosts, at } of servers) {
    out.push(
      hosts.map((host, k) => {
        const lower = host.toLowerCase();
        const previous = servedBy.get(lower);
        if (!previous) servedBy.set(lower, at);
        else
          ctx.report(
            [...at, "hosts", k],
            `${noun} "${lower}" is already ${verb} on port ${port} by ${formatPath(previous)}`,
          );
        return lower;
      }),
    );
    yield;
  }
  return out;
}
