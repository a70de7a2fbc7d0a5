// Picks, per listener, the fastest adapter of the current runtime that honours everything the
// listener needs; never a weaker one. node:http2 + node:net honours all needs on all three
// runtimes (RUNTIMES.md), so it is the fallback everywhere. Deno.serve is not offered: besides
// lacking SNI selection and client auth, it answers oversized headers with 400 instead of 431,
// and under it the route timeout did not cut a slow upstream (seen in the e2e suite).
import { PorticoError } from "../errors.ts";
import type { RuntimeName } from "../util/runtime.ts";
import { startBunListener } from "./bun/listener.ts";
import { startBunSniListener } from "./bun/sni-listener.ts";
import { NEED_WORDS, needsOf, type ListenerNeeds } from "./needs.ts";
import { startNodeListener, startNodePipeListener } from "./node/listener.ts";
import { startTcpListener } from "./node/tcp-listener.ts";
import type { ListenerSpec, StartListener } from "./types.ts";

export interface Adapter {
  name: string;
  runtimes: RuntimeName[];
  /** The needs it cannot honour. */
  cannot: (keyof ListenerNeeds)[];
  /** Needs it cannot honour on one runtime only. */
  cannotOn?: Partial<Record<RuntimeName, (keyof ListenerNeeds)[]>>;
  start: StartListener;
}

/** Fastest first. */
export const ADAPTERS: Adapter[] = [
  { name: "bun-serve", runtimes: ["bun"], cannot: ["strictSni", "wildcardSni", "clientAuth", "peerCertificate", "tlsVersions", "cipherSuites"], start: startBunListener },
  // Plain SIMPLE policies on Bun.serve behind the SNI front; MUTUAL, OPTIONAL_MUTUAL, client-cert
  // checks and TLS version/cipher limits on node:http2 (sni-listener.ts): honours all.
  { name: "bun-sni", runtimes: ["bun"], cannot: [], start: startBunSniListener },
  // Deno's node:tls is built on rustls, which ignores `ciphers` (checked with curl --ciphers).
  // Deno: node:http2 servers on loopback ports behind the SNI front (see startNodePipeListener).
  { name: "node-http2-pipe", runtimes: ["deno"], cannot: ["cipherSuites"], start: startNodePipeListener },
  { name: "node-http2", runtimes: ["bun", "deno", "node"], cannot: [], cannotOn: { deno: ["cipherSuites"] }, start: startNodeListener },
];

/** TCP and TLS-passthrough listeners: node:net forwarding, on every runtime (RUNTIMES.md). */
export const STREAM_ADAPTER: Adapter = { name: "node-tcp", runtimes: ["bun", "deno", "node"], cannot: [], start: startTcpListener };

export type AdapterPreference = "auto" | string;

export class UnsupportedListenerError extends PorticoError {}

export function selectAdapter(spec: ListenerSpec, runtime: RuntimeName, preference: AdapterPreference = "auto"): Adapter {
  // --adapter chooses among HTTP adapters; a TCP listener has exactly one implementation.
  if (spec.stream) return STREAM_ADAPTER;
  const needs = needsOf(spec);
  const needed = (Object.keys(needs) as (keyof ListenerNeeds)[]).filter((k) => needs[k]);
  const cannot = (a: Adapter, n: keyof ListenerNeeds) => a.cannot.includes(n) || (a.cannotOn?.[runtime]?.includes(n) ?? false);
  const candidates = ADAPTERS.filter((a) => a.runtimes.includes(runtime) && (preference === "auto" || a.name === preference));
  for (const a of candidates) {
    if (!needed.some((n) => cannot(a, n))) return a;
  }
  // Explain what is missing, and where it would work.
  const named = preference === "auto" ? undefined : ADAPTERS.find((a) => a.name === preference);
  if (named && !named.runtimes.includes(runtime)) {
    throw new UnsupportedListenerError(`listener "${spec.name}": adapter ${named.name} runs on ${named.runtimes.join(", ")}, not on ${runtime}`);
  }
  const missing = needed.filter((n) => candidates.every((a) => cannot(a, n)));
  const able = ADAPTERS.filter((a) => !needed.some((n) => a.cannot.includes(n)));
  throw new UnsupportedListenerError(
    `listener "${spec.name}" needs ${missing.map((n) => NEED_WORDS[n]).join(" and ")}, which ${preference === "auto" ? `no adapter on ${runtime}` : `adapter ${preference}`} can honour; ` +
      `use ${able.map((a) => `${a.name} (${a.runtimes.filter((r) => !needed.some((n) => a.cannotOn?.[r]?.includes(n))).join(", ")})`).join(" or ") || "another runtime"}`,
  );
}
