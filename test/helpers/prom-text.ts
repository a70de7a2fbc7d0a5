// A strict reader of the Prometheus text exposition format 0.0.4
// (prometheus.io/docs/instrumenting/exposition_formats): it throws on a line the format does
// not allow (a sample of a family without # TYPE before it, a badly escaped label value, a
// value that is not a float), and gives the samples for tests to look values up.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  help: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created"];

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const [i, line] of text.split("\n").entries()) {
    const fail = (why: string) => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) fail("bad metric name");
      if (kind === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) fail("bad type");
        if (types.has(name)) fail("second TYPE");
        types.set(name, rest);
      } else {
        if (/\\[^n\\]/.test(rest)) fail("bad escape in HELP");
        help.set(name, rest);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) fail("not a sample");
    const [, name, rawLabels, rawValue] = m as unknown as [string, string, string | undefined, string];
    const family = types.has(name)
      ? name
      : SUFFIXES.map((s) => name.slice(0, -s.length)).find(
          (b, k) => name.endsWith(SUFFIXES[k]!) && types.has(b),
        );
    if (family === undefined) fail("sample before its # TYPE");
    const value = /^(\+Inf|-Inf|NaN)$/.test(rawValue) ? Number(rawValue.replace("+", "")) : Number(rawValue);
    if (!/^(\+Inf|-Inf|NaN|-?[0-9.]+(e[+-]?\d+)?)$/i.test(rawValue)) fail("bad value");
    samples.push({ name, labels: rawLabels ? parseLabels(rawLabels, fail) : {}, value });
  }
  return { samples, types, help };
}

function parseLabels(raw: string, fail: (why: string) => never): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = raw.slice(1, -1);
  while (rest.length > 0) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (!m) fail("bad label");
    const [all, key, value] = m as unknown as [string, string, string];
    if (key in labels) fail("repeated label");
    labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    rest = rest.slice(all.length);
  }
  return labels;
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(
  e: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return e.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}
