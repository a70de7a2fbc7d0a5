// Picks, per listener, the fastest adapter of the current runtime that honours everything the
// listener needs; never a weaker one. node:http2 + node:net honours all needs on all three
// runtimes (docs/runtimes.md, "Listener adapters"), so it is the fallback everywhere. Deno.serve
// is not offered: besides lacking SNI selection and client auth, it answers oversized headers
// with 400 instead of 431, and under it the route timeout did not cut a slow upstream (seen in
// the e2e suite).
//
// Layout: one file per adapter beside this one, named as --adapter names it; what adapters
// share (the contract in types.ts, the SNI front, connection tracking and drain, node:http
// servers, Bun.serve options) is in _shared/, which imports nothing from here.
import { PorticoError } from "../util/errors.ts";
import type { RuntimeName } from "../util/runtime.ts";
import { NEED_WORDS, needsOf, type ListenerNeeds } from "./_shared/needs.ts";
import type { HttpListenerSpec, ListenerSpec, StartListener, StreamListenerSpec } from "./_shared/types.ts";
import { startBunServe } from "./bun-serve.ts";
import { startBunSni } from "./bun-sni.ts";
import { startNodeHttp2 } from "./node-http2.ts";
import { startNodeHttp2Pipe } from "./node-http2-pipe.ts";
import { startNodeTcp } from "./node-tcp.ts";

export interface Adapter<S extends ListenerSpec = HttpListenerSpec> {
  /** What --adapter calls it; also the name of the file that implements it. */
  name: string;
  runtimes: RuntimeName[];
  /** The needs it cannot honour. */
  cannot: (keyof ListenerNeeds)[];
  /** Needs it cannot honour on one runtime only. */
  cannotOn?: Partial<Record<RuntimeName, (keyof ListenerNeeds)[]>>;
  start: StartListener<S>;
}

/** HTTP(S) adapters, fastest first. */
export const ADAPTERS: Adapter[] = [
  {
    name: "bun-serve",
    runtimes: ["bun"],
    // Bun.serve writes a Web Response, which has no trailers, cannot hand over an upgraded
    // connection, and its Request.url is already WHATWG-parsed (dot segments resolved, `\` read
    // as `/`, `'` in the query escaped): the raw request-target is not exposed.
    cannot: [
      "strictSni",
      "wildcardSni",
      "clientAuth",
      "peerCertificate",
      "tlsVersions",
      "cipherSuites",
      "trailers",
      "websocket",
      "rawTarget",
      "acmeTlsAlpn",
    ],
    start: startBunServe,
  },
  // Plain SIMPLE policies on Bun.serve behind the SNI front; MUTUAL, OPTIONAL_MUTUAL, client-cert
  // checks, TLS version/cipher limits and trailers on node:http2 (bun-sni.ts). Its Bun.serve side
  // has no raw request-target either.
  { name: "bun-sni", runtimes: ["bun"], cannot: ["rawTarget"], start: startBunSni },
  // Deno's node:tls is built on rustls, which ignores `ciphers` (checked with curl --ciphers).
  // Deno: node:http2 servers on loopback ports behind the SNI front (node-http2-pipe.ts).
  { name: "node-http2-pipe", runtimes: ["deno"], cannot: ["cipherSuites"], start: startNodeHttp2Pipe },
  {
    name: "node-http2",
    runtimes: ["bun", "deno", "node"],
    cannot: [],
    cannotOn: { deno: ["cipherSuites"] },
    start: startNodeHttp2,
  },
];

/**
 * TCP and TLS-passthrough listeners: node:net forwarding, on every runtime (docs/runtimes.md,
 * "TCP forwarding and passthrough").
 */
export const STREAM_ADAPTER: Adapter<StreamListenerSpec> = {
  name: "node-tcp",
  runtimes: ["bun", "deno", "node"],
  cannot: [],
  start: startNodeTcp,
};

export type AdapterPreference = "auto" | string;

export class UnsupportedListenerError extends PorticoError {}

/** The adapter for `spec`: one of kind, so its `start` takes exactly this kind of spec. */
export function selectAdapter<S extends ListenerSpec>(
  spec: S,
  runtime: RuntimeName,
  preference?: AdapterPreference,
): Adapter<S>;
export function selectAdapter(
  spec: ListenerSpec,
  runtime: RuntimeName,
  preference: AdapterPreference = "auto",
): Adapter<HttpListenerSpec> | Adapter<StreamListenerSpec> {
  // --adapter chooses among HTTP adapters; a TCP listener has exactly one implementation.
  if (spec.kind === "stream") return STREAM_ADAPTER;
  const needs = needsOf(spec);
  const needed = (Object.keys(needs) as (keyof ListenerNeeds)[]).filter((k) => needs[k]);
  const cannot = (a: Adapter, n: keyof ListenerNeeds) =>
    a.cannot.includes(n) || (a.cannotOn?.[runtime]?.includes(n) ?? false);
  const candidates = ADAPTERS.filter(
    (a) => a.runtimes.includes(runtime) && (preference === "auto" || a.name === preference),
  );
  for (const a of candidates) {
    if (!needed.some((n) => cannot(a, n))) return a;
  }
  // Explain what is missing, and where it would work.
  const named = preference === "auto" ? undefined : ADAPTERS.find((a) => a.name === preference);
  if (named && !named.runtimes.includes(runtime)) {
    throw new UnsupportedListenerError(
      `listener "${spec.name}": adapter ${named.name} runs on ${named.runtimes.join(", ")}, ` +
        `not on ${runtime}`,
    );
  }
  const missing = needed.filter((n) => candidates.every((a) => cannot(a, n)));
  const able = ADAPTERS.filter((a) => !needed.some((n) => a.cannot.includes(n)));
  throw new UnsupportedListenerError(
    `listener "${spec.name}" needs ${missing.map((n) => NEED_WORDS[n]).join(" and ")}, which ` +
      `${preference === "auto" ? `no adapter on ${runtime} can` : `adapter ${preference} cannot`} honour; ` +
      `use ${alternatives(able, needed)}`,
  );
}

/** The runtimes on which adapter `a` honours every one of `needed`. */
function runtimesHonouring(a: Adapter, needed: (keyof ListenerNeeds)[]): RuntimeName[] {
  return a.runtimes.filter((r) => !needed.some((n) => a.cannotOn?.[r]?.includes(n)));
}

/** "bun-sni (bun) or node-http2 (bun, node)": where the needs can be met instead. */
function alternatives(able: Adapter[], needed: (keyof ListenerNeeds)[]): string {
  const where = able.map((a) => `${a.name} (${runtimesHonouring(a, needed).join(", ")})`);
  return where.join(" or ") || "another runtime";
}
