// DNS resolution for a pool (Istio's ServiceEntry resolution DNS and DNS_ROUND_ROBIN): every
// name is looked up with node:dns/promises lookup(name, { all: true }) (the system resolver, as
// getaddrinfo: /etc/hosts included, `localhost` → 127.0.0.1 and ::1; the same on Bun, Deno and
// Node) now and every `refreshMs`. A name that fails keeps its last good answer, and the failure
// is reported, as Envoy keeps a STRICT_DNS cluster's hosts when a refresh fails.
import { lookup as systemLookup } from "node:dns/promises";
import { PorticoError } from "../../util/errors.ts";
import { type Later, later } from "../../util/timers.ts";
import type { EndpointSpec, Resolution } from "./types.ts";

/** A name could not be resolved; `cause` is the resolver's error. */
export class DnsResolutionError extends PorticoError {
  constructor(
    readonly name: string,
    options: { cause?: unknown },
  ) {
    const code = (options.cause as NodeJS.ErrnoException | undefined)?.code;
    super(`cannot resolve ${name}${code ? `: ${code}` : ""}`, options);
  }
}

export type Lookup = (name: string) => Promise<readonly { address: string; family: number }[]>;

export const defaultLookup: Lookup = (name) => systemLookup(name, { all: true });

/** An endpoint resolved from a name: the spec with an address, and the name it came from. */
export interface ResolvedEndpoint extends EndpointSpec {
  hostname: string;
}

export interface DnsStatus {
  lastResolvedAt?: number;
  errors: string[];
}

export class DnsResolver {
  private readonly answers = new Map<string, string[]>();
  private timer: Later | undefined;
  private closed = false;
  private errors: string[] = [];
  private lastResolvedAt: number | undefined;
  /** Settles once the first round of lookups is over, answered or not. */
  readonly ready: Promise<void>;

  constructor(
    private readonly names: readonly EndpointSpec[],
    private readonly mode: Exclude<Resolution, "STATIC">,
    private readonly refreshMs: number,
    private readonly onAnswer: (endpoints: ResolvedEndpoint[]) => void,
    private readonly onError: (err: DnsResolutionError) => void = () => {},
    private readonly lookup: Lookup = defaultLookup,
    private readonly now: () => number = Date.now,
  ) {
    this.ready = this.refresh();
  }

  status(): DnsStatus {
    return { lastResolvedAt: this.lastResolvedAt, errors: [...this.errors] };
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }

  /** One round: look every name up, hand over the endpoints, schedule the next round. */
  async refresh(): Promise<void> {
    const distinct = [...new Set(this.names.map((n) => n.address))];
    const results = await Promise.allSettled(distinct.map((name) => this.lookup(name)));
    if (this.closed) return;
    const errors: string[] = [];
    results.forEach((r, i) => {
      const name = distinct[i]!;
      if (r.status === "fulfilled" && r.value.length > 0) {
        const addresses = [...new Set(r.value.map((a) => a.address))];
        // LOGICAL_DNS (DNS_ROUND_ROBIN) connects to the first address of the latest answer.
        this.answers.set(name, this.mode === "DNS_ROUND_ROBIN" ? addresses.slice(0, 1) : addresses);
      } else {
        const cause = r.status === "rejected" ? r.reason : new Error("no addresses");
        const err = new DnsResolutionError(name, { cause });
        errors.push(err.message);
        this.onError(err);
      }
    });
    this.errors = errors;
    if (errors.length < distinct.length) this.lastResolvedAt = this.now();
    this.onAnswer(
      this.names.flatMap((n) =>
        (this.answers.get(n.address) ?? []).map((address) => ({ ...n, address, hostname: n.address })),
      ),
    );
    this.timer = later(this.refreshMs, () => void this.refresh());
  }
}
