// Host-name lookup with Istio/Envoy precedence: an exact name beats the longest matching
// `*.suffix` wildcard, which beats the catch-all `*`. Used for SNI certificate selection and
// for virtual-host selection, both of which must agree on what "matches" means.

export class HostTable<T> {
  private readonly exact = new Map<string, T>();
  /** Suffixes including the leading dot (".example.com"), longest first. */
  private wildcards: { suffix: string; value: T }[] = [];
  private any: T | undefined;

  /** Adds `pattern` (lower-case). Returns false when the pattern is already taken. */
  add(pattern: string, value: T): boolean {
    if (pattern === "*") {
      if (this.any !== undefined) return false;
      this.any = value;
      return true;
    }
    if (pattern.startsWith("*.")) {
      const suffix = pattern.slice(1);
      if (this.wildcards.some((w) => w.suffix === suffix)) return false;
      this.wildcards.push({ suffix, value });
      this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
      return true;
    }
    if (this.exact.has(pattern)) return false;
    this.exact.set(pattern, value);
    return true;
  }

  /** `host` must already be lower-case and without port. */
  match(host: string): T | undefined {
    const hit = this.exact.get(host);
    if (hit !== undefined) return hit;
    return this.wildcard(host)?.value ?? this.any;
  }

  /**
   * The pattern `match(host)` goes by ("a.example.com", "*.example.com" or "*"), undefined when
   * none matches: a bounded name for the host (metric labels), unlike the host itself.
   */
  pattern(host: string): string | undefined {
    if (this.exact.has(host)) return host;
    const w = this.wildcard(host);
    if (w !== undefined) return `*${w.suffix}`;
    return this.any === undefined ? undefined : "*";
  }

  /** The longest wildcard that matches `host`. */
  private wildcard(host: string): { suffix: string; value: T } | undefined {
    // "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com".
    for (const w of this.wildcards) if (host.length > w.suffix.length && host.endsWith(w.suffix)) return w;
    return undefined;
  }

  /** For comparing two tables (a reload keeps a listener whose tables did not change). */
  toJSON(): unknown {
    return { exact: [...this.exact], wildcards: this.wildcards, any: this.any };
  }

  /** Every pattern, exact names first, then wildcards longest first, then "*". */
  patterns(): string[] {
    return [
      ...this.exact.keys(),
      ...this.wildcards.map((w) => `*${w.suffix}`),
      ...(this.any === undefined ? [] : ["*"]),
    ];
  }

  /** Every value, each once per pattern. */
  values(): T[] {
    return [
      ...this.exact.values(),
      ...this.wildcards.map((w) => w.value),
      ...(this.any === undefined ? [] : [this.any]),
    ];
  }

  get size(): number {
    return this.exact.size + this.wildcards.length + (this.any === undefined ? 0 : 1);
  }
}

/**
 * The host part of a Host / :authority value, lower-cased, without port or trailing dot.
 * Returns "" for a value that is not a plausible host (so it matches nothing but `*`).
 */
export function hostOnly(authority: string): string {
  let end = authority.length;
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const close = authority.indexOf("]");
    return close < 0 ? "" : authority.slice(0, close + 1).toLowerCase();
  }
  const colon = authority.lastIndexOf(":");
  if (colon >= 0) end = colon;
  if (end > 0 && authority.charCodeAt(end - 1) === 46 /* . */) end--;
  const host = authority.slice(0, end);
  // Avoid allocating when the host is already lower-case (the common case).
  return /[A-Z]/.test(host) ? host.toLowerCase() : host;
}

/** Where the ":port" of a Host / :authority value starts ("[::1]:8080" → 5), or -1 without a port. */
export function portStart(authority: string): number {
  if (!authority.startsWith("[")) return authority.lastIndexOf(":");
  const close = authority.indexOf("]:");
  return close < 0 ? -1 : close + 1;
}

/** "address:port", with an IPv6 address in brackets ("[::1]:80"). */
export function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
