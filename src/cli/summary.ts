// The startup summary a person reads (and, with --log-format json, a log pipeline parses): one
// line per listener with where it listens, what it is, which adapter serves it and for which
// hosts (per TLS server: mode, credential, days until its certificate expires), the admin
// listener, then one closing line with the counts. Reloads print the lines of the listeners
// they started or restarted. A listener's servers (or hosts) are listed up to SUMMARY_ITEMS, then
// counted: with 10,000 hosts the line was 600 KB, which no person reads and some log pipelines
// cut; the admin API lists them all.
import { UNBOUNDED_H2_FLOODS } from "../listeners/bun-serve.ts";
import type { Plan } from "../provision/plan.ts";
import { daysLeft } from "../util/days.ts";
import { hostPort } from "../util/host-table.ts";
import { log } from "./log.ts";

/** What runs for a listener of the plan: the port bound (port 0 binds another) and the adapter. */
export interface RunningFact {
  name: string;
  port: number;
  adapter: string;
  /** Limits the adapter cannot enforce for this listener (RunningListener.unenforced). */
  unenforced?: string[];
}

export interface SummaryLine {
  msg: string;
  fields: Record<string, unknown>;
}

/** Servers (an HTTPS listener's) or hosts (an HTTP or passthrough listener's) a line lists. */
export const SUMMARY_ITEMS = 10;

/**
 * Listener lines, in plan order; only the listeners in `only` when given. `admin`: the admin
 * listener's URL when one runs, which the line of a long listener points to.
 */
export function listenerLines(
  plan: Plan,
  running: RunningFact[],
  only?: Set<string>,
  admin?: string,
  now = new Date(),
): SummaryLine[] {
  const lines: SummaryLine[] = [];
  for (const l of [...plan.listeners, ...plan.streamListeners]) {
    if (only && !only.has(l.name)) continue;
    const r = running.find((x) => x.name === l.name);
    const port = r?.port ?? l.port;
    const adapter = r?.adapter ?? "?";
    const kind = l.kind === "tls-passthrough" ? "TLS" : l.kind.toUpperCase();
    const fields: Record<string, unknown> = { listener: l.name, address: l.address, port, kind, adapter };
    let what: string;
    if (l.kind === "https") {
      const servers = l.servers.slice(0, SUMMARY_ITEMS).map((s) => ({
        hosts: s.hosts,
        mode: s.mode,
        credential: s.credential.name,
        daysLeft: daysLeft(s.credential.leaf.notAfter, now),
      }));
      fields.servers = servers;
      what = servers
        .map((s) => `${s.hosts.join(",")} (${s.mode}, ${s.credential}, ${s.daysLeft} days left)`)
        .join("; ");
      const more = l.servers.length - servers.length;
      if (more > 0) {
        // The one fact of the rest a person needs now: how soon the first of them expires.
        let fewest = Number.POSITIVE_INFINITY;
        for (const s of l.servers.slice(SUMMARY_ITEMS))
          fewest = Math.min(fewest, daysLeft(s.credential.leaf.notAfter, now));
        fields.moreServers = more;
        fields.moreServersFewestDaysLeft = fewest;
        what +=
          `; and ${plural(more, "more server")} (their soonest certificate expires in ${fewest} days; ` +
          `${allOfThem(admin, "/certs", "every credential and its hosts")})`;
      }
      if (l.acmePending?.length) {
        fields.acmePending = l.acmePending;
        what += `${what ? "; " : ""}${l.acmePending.join(",")} (waiting for an ACME certificate)`;
      }
    } else if (l.kind === "http") {
      const hosts = cappedHosts(l.hosts.patterns(), fields, admin);
      if (l.httpsRedirectPort !== undefined) fields.redirectPort = l.httpsRedirectPort;
      const redirect = l.httpsRedirectPort !== undefined ? " (redirect to https)" : "";
      what = `${hosts}${redirect}`;
    } else if (l.kind === "tcp") {
      const upstreams = l.route?.upstreams.map((u) => `${u.service} ${u.host}:${u.port}`) ?? [];
      fields.upstreams = upstreams;
      what = upstreams.length ? `to ${upstreams.join(", ")}` : "no route";
    } else {
      what = `${cappedHosts(l.hosts.patterns(), fields, admin)} (passthrough by SNI)`;
    }
    lines.push({
      msg: `listener ${l.name} on ${hostPort(l.address, port)} ${kind} [${adapter}]: ${what}`,
      fields,
    });
    // Said once per listener, so that a limit nobody enforces is never a surprise (limits.ts).
    if (r?.unenforced?.length) {
      lines.push({
        msg: `listener ${l.name} [${adapter}]: cannot enforce ${r.unenforced.join(", ")}`,
        fields: { listener: l.name, adapter, unenforced: r.unenforced },
      });
    }
    if (l.kind === "https" && adapter === "bun-serve")
      lines.push({
        msg: `listener ${l.name}: ${UNBOUNDED_H2_FLOODS}`,
        fields: { listener: l.name, note: UNBOUNDED_H2_FLOODS },
      });
  }
  return lines;
}

/** Where the whole list is: the admin API's `path`, on this admin listener or once one runs. */
function allOfThem(admin: string | undefined, path: string, what: string): string {
  return admin === undefined
    ? `the admin listener, when on, lists ${what}: GET ${path}`
    : `GET ${admin}${path} lists ${what}`;
}

/** Up to SUMMARY_ITEMS host patterns into `fields.hosts` (the rest counted), and as text. */
function cappedHosts(patterns: string[], fields: Record<string, unknown>, admin: string | undefined): string {
  const shown = patterns.slice(0, SUMMARY_ITEMS);
  fields.hosts = shown;
  const more = patterns.length - shown.length;
  if (more === 0) return shown.join(",");
  fields.moreHosts = more;
  const where = allOfThem(admin, "/config", "the listeners and their hosts");
  return `${shown.join(",")} and ${more} more (${where})`;
}

export interface Totals {
  version: string;
  runtime: string;
  files: string[];
  listeners: number;
  workers: number;
  warnings: number;
  /** The admin listener's URL, when one runs. */
  admin: string | undefined;
}

/** The admin line ("admin on URL (endpoints)") and the closing "serving" line. */
export function closingLines(t: Totals, adminEndpoints: string[]): SummaryLine[] {
  const lines: SummaryLine[] = [];
  if (t.admin) {
    lines.push({
      msg: `admin on ${t.admin} (${adminEndpoints.join(", ")})`,
      fields: { admin: t.admin, endpoints: adminEndpoints },
    });
  }
  const counts = [
    plural(t.listeners, "listener"),
    plural(t.workers, "worker"),
    plural(t.warnings, "warning"),
  ];
  lines.push({
    msg: `portico ${t.version} (${t.runtime}) serving ${t.files.join(", ")}: ${counts.join(", ")}`,
    fields: { ...t },
  });
  return lines;
}

export function logLines(lines: SummaryLine[]): void {
  for (const l of lines) log.info(l.msg, l.fields);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
