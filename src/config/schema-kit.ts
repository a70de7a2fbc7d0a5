// Building blocks for valibot schemas whose messages say what to write ("expected ..., got ...",
// "did you mean"), used by every schema: routes.yaml's, the HTTP route's, the Istio documents'.
// Also the common value types (ports, hosts, durations, header values) and `validate`, which
// reports a schema's issues at the field path the value was found at.

import * as v from "valibot";
import { HIDDEN_KEY_TEXT, mayBeKeyMaterial } from "../util/key-material.ts";
import type { Steps } from "../util/slices.ts";
import { parseDuration } from "./duration.ts";
import type { Reporter } from "./report.ts";
import { didYouMean } from "./suggest.ts";
import type { FieldPath } from "./yaml-locate.ts";

export type Message = (issue: v.BaseIssue<unknown>) => string;
/** Reports from inside a schema rule, at a path relative to the value the rule checks. */
export type AddIssue = (path: FieldPath, message: string) => void;

/**
 * Checks `value`, found at `at`, against a schema; every issue is reported at `at` plus its own
 * path. Undefined when there was any.
 */
export function validate<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  at: FieldPath,
  reporter: Reporter,
): v.InferOutput<S> | undefined {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  for (const issue of result.issues) {
    reporter.report([...at, ...(issue.path ?? []).map((item) => item.key as string | number)], issue.message);
  }
  return undefined;
}

/** What each schema expects, in words; lets a missing required field say what to write. */
const expectations = new WeakMap<object, string>();

export function expecting<S extends object>(what: string, schema: S): S {
  expectations.set(schema, what);
  return schema;
}

/** How a YAML value reads in a message: `"abc"`, `8080`, `a list`, `an empty value`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (typeof value === "string" && mayBeKeyMaterial(value)) return HIDDEN_KEY_TEXT;
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

export const got =
  (what: string): Message =>
  (issue) =>
    `expected ${what}, got ${describeValue(issue.input)}`;

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A custom check over the whole mapping; `add` reports at a path relative to it. */
export function rule<T>(check: (value: Record<string, unknown>, add: AddIssue) => void): v.RawCheckAction<T> {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    const value = dataset.value;
    if (!isMapping(value)) return;
    check(value, (path, message) => {
      const items = path.map((key) => ({
        type: "object" as const,
        origin: "value" as const,
        input: value,
        key,
        value: value[key],
      }));
      addIssue(
        items.length > 0
          ? { message, path: items as [v.ObjectPathItem, ...v.ObjectPathItem[]] }
          : { message },
      );
    });
  });
}

/** `field "delegate" is not supported by Portico: <reason>`: the one wording for Istio fields we refuse. */
export function unsupportedField(name: string, reason: string): string {
  return `field ${JSON.stringify(name)} is not supported by Portico: ${reason}`;
}

/**
 * A YAML mapping with exactly these keys: unknown keys are errors, with a spelling hint. Keys in
 * `unsupported` are real Istio fields that Portico does not implement: they are reported with
 * the reason, never silently dropped.
 */
export function mapping<const E extends v.ObjectEntries>(
  what: string,
  entries: E,
  unsupported: Record<string, string> = {},
) {
  const known = Object.keys(entries);
  const missing: Message = (issue) => {
    const key = String(issue.path?.[0]?.key);
    const wanted = expectations.get(entries[key] as object);
    return wanted ? `required field is missing; expected ${wanted}` : "required field is missing";
  };
  return walkable(
    expecting(
      what,
      v.pipe(
        v.custom<Record<string, unknown>>(isMapping, got(what)),
        v.looseObject(entries, missing),
        rule((value, add) => {
          for (const key of Object.keys(value)) {
            if (known.includes(key)) continue;
            const reason = unsupported[key];
            if (reason !== undefined) {
              add([key], unsupportedField(key, reason));
              continue;
            }
            const hint = didYouMean(key, known) || `; expected one of: ${known.join(", ")}`;
            add([key], `unknown field ${JSON.stringify(key)}${hint}`);
          }
        }),
      ),
    ),
    { entries: Object.entries(entries) as [string, v.GenericSchema][] },
  );
}

/** A YAML mapping from free-form names to values of one kind. */
export function namedMap<S extends v.GenericSchema>(what: string, item: S) {
  const inner = v.pipe(
    v.custom<Record<string, unknown>>(isMapping, got(what)),
    v.record(v.string(), ahead(item)),
  );
  const part = v.record(v.string(), ahead(item));
  // As valibot's record: own keys in for-in order, without the three it skips.
  const whole = function* (value: unknown): Steps<unknown> {
    if (!isMapping(value)) return undefined;
    const keys: string[] = [];
    for (const key in value) if (Object.hasOwn(value, key)) keys.push(key);
    if (keys.some((key) => key === "__proto__" || key === "prototype" || key === "constructor"))
      return undefined;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i += aheadChunk.entries) {
      const chunk: Record<string, unknown> = {};
      for (const key of keys.slice(i, i + aheadChunk.entries)) chunk[key] = value[key];
      const result = v.safeParse(part, chunk);
      if (!result.success) return undefined;
      for (const key of keys.slice(i, i + aheadChunk.entries)) out[key] = result.output[key];
      yield;
    }
    return out;
  };
  return expecting(what, walkable(ahead(inner), { item, inner, whole }));
}

export function list<S extends v.GenericSchema>(what: string, item: S, min = 0) {
  const inner = v.pipe(v.array(ahead(item), got(what)), v.minLength(min, got(what)));
  const part = v.array(ahead(item));
  const whole = function* (value: unknown): Steps<unknown> {
    if (!Array.isArray(value) || value.length < min) return undefined;
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i += aheadChunk.entries) {
      const result = v.safeParse(part, value.slice(i, i + aheadChunk.entries));
      if (!result.success) return undefined;
      out.push(...result.output);
      yield;
    }
    return out;
  };
  return expecting(what, walkable(ahead(inner), { item, inner, whole }));
}

/*
 * Validating a large section in slices. valibot validates in one synchronous call: at 10,000
 * hosts, a reload's changed `listeners:` and `credentials:` took 90 ms of it. `validateAhead`
 * walks a value with its schema (through mappings, lists and named maps), deepest first, and
 * validates each entry of a list or named map that is a mapping or list, then a large list or
 * named map itself in chunks of entries, pausing between them; the schema's own call takes each
 * value validated so without an issue as it is (`ahead`). An entry's output depends only on the
 * entry (valibot's item schemas see nothing else) and a list's or named map's only on its
 * entries, so the output is the same; a value with issues is validated again in place, so the
 * issues and their paths are the same.
 */

/** Entries validated in one call when a list or named map is validated ahead (tests: a few). */
export const aheadChunk = { entries: 256 };

interface Shape {
  /** A mapping's fields. */
  entries?: [string, v.GenericSchema][];
  /** A list's or named map's: its entries' schema, its own schema, and its output in chunks. */
  item?: v.GenericSchema;
  inner?: v.GenericSchema;
  whole?: (value: unknown) => Steps<unknown>;
}
const shapes = new WeakMap<object, Shape>();
const validatedAhead = new WeakMap<object, { schema: v.GenericSchema; output: unknown }>();

function walkable<S extends object>(schema: S, shape: Shape): S {
  shapes.set(schema, shape);
  return schema;
}

/** `schema`, taking a value validateAhead validated with it as its output. */
function ahead<S extends v.GenericSchema>(schema: S): S {
  const run: S["~run"] = (dataset, config) => {
    const value = dataset.value;
    const known = typeof value === "object" && value !== null ? validatedAhead.get(value) : undefined;
    if (known?.schema === schema) return { typed: true, value: known.output } as ReturnType<S["~run"]>;
    return schema["~run"](dataset, config);
  };
  return Object.create(schema, { "~run": { value: run } }) as S;
}

/** See above: validates the lists and named maps in `value`, pausing between entries. */
export function* validateAhead(schema: unknown, value: unknown): Steps<void> {
  if (typeof value !== "object" || value === null) return;
  // Through optional values, pipes (to their first schema) and lazy schemas (to the one chosen).
  let s = schema as { type?: string; wrapped?: unknown; pipe?: unknown[]; getter?: (x: unknown) => unknown };
  for (let i = 0; i < 16 && s !== undefined && !shapes.has(s); i++) {
    if (s.type === "optional" || s.type === "nullish" || s.type === "nullable") s = s.wrapped as typeof s;
    else if (s.type === "lazy" && s.getter) s = s.getter(value) as typeof s;
    else if (Array.isArray(s.pipe)) s = s.pipe[0] as typeof s;
    else break;
  }
  const shape = s === undefined ? undefined : shapes.get(s);
  if (shape?.entries !== undefined) {
    if (Array.isArray(value)) return;
    for (const [key, entry] of shape.entries)
      if (Object.hasOwn(value, key)) yield* validateAhead(entry, (value as Record<string, unknown>)[key]);
    return;
  }
  const item = shape?.item;
  if (item === undefined) return;
  const entries = Array.isArray(value) ? value : isMapping(value) ? Object.values(value) : [];
  for (const entry of entries) {
    if (typeof entry !== "object" || entry === null) continue;
    yield* validateAhead(item, entry);
    const result = v.safeParse(item, entry);
    if (result.success) validatedAhead.set(entry, { schema: item, output: result.output });
    yield;
  }
  if (entries.length > aheadChunk.entries && shape!.whole && shape!.inner) {
    const output = yield* shape!.whole(value);
    if (output !== undefined) validatedAhead.set(value, { schema: shape!.inner, output });
  }
}

export function text(what: string, min = 0) {
  return expecting(what, v.pipe(v.string(got(what)), v.minLength(min, got(what))));
}

export function integer(what: string, min: number, max: number) {
  const m = got(what);
  return expecting(what, v.pipe(v.number(m), v.integer(m), v.minValue(min, m), v.maxValue(max, m)));
}

/** Any number from `min` to `max` (fractions allowed), such as Istio's Percent.value. */
export function numberIn(what: string, min: number, max: number) {
  const m = got(what);
  return expecting(what, v.pipe(v.number(m), v.finite(m), v.minValue(min, m), v.maxValue(max, m)));
}

export function boolean() {
  return expecting("true or false", v.boolean(got("true or false")));
}

export function oneOf<const T extends readonly string[]>(options: T) {
  const what = options.join(" or ");
  const message: Message = (issue) =>
    got(what)(issue) + (typeof issue.input === "string" ? didYouMean(issue.input, options) : "");
  return expecting(what, v.picklist(options, message));
}

/** A string that `problem` accepts (returns undefined for); otherwise its message. */
export function checked(what: string, problem: (value: string) => string | undefined) {
  return expecting(
    what,
    v.pipe(
      v.string(got(what)),
      v.check(
        (value) => problem(value) === undefined,
        (issue) => problem(issue.input as string) ?? got(what)(issue),
      ),
    ),
  );
}

export const port = integer("an integer 1..65535", 1, 65535);

const HOST = 'a host name, "*.suffix" or "*"';
const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** Why `host` is not a host pattern (a name, `*.suffix` or `*`), or undefined when it is one. */
export function hostProblem(host: string): string | undefined {
  const invalid = `invalid host ${JSON.stringify(host)}`;
  if (/\s/.test(host)) return `${invalid}: spaces are not allowed`;
  if (host.includes("://")) return `${invalid}: write the host name alone, without a scheme`;
  if (host.includes("/")) return `${invalid}: write the host name alone, without a path`;
  if (host.includes(":")) return `${invalid}: write the host name alone, without a port`;
  if (host === "*") return undefined;
  const name = host.startsWith("*.") ? host.slice(2) : host;
  if (name.includes("*")) {
    return `${invalid}: a wildcard is only allowed as the whole first label, as in "*.example.com"`;
  }
  const labels = name.split(".");
  if (name.length > 253 || !labels.every((label) => HOST_LABEL.test(label))) {
    return `${invalid}: expected ${HOST}`;
  }
  return undefined;
}

export const host = checked(HOST, hostProblem);

// setTimeout fires at once, with only a warning, for delays it cannot represent.
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const DURATION = "a duration like 15s or 250ms";

export const duration = checked(DURATION, (value) => {
  const ms = parseDuration(value);
  if (ms === undefined) return `expected ${DURATION}, got ${describeValue(value)}`;
  if (ms > MAX_TIMEOUT_MS) return `expected a duration of at most 596h, got ${describeValue(value)}`;
  return undefined;
});

/** A duration of at least 1ms, as Istio requires for perTryTimeout and fixedDelay. */
export const positiveDuration = checked(DURATION, (value) => {
  const ms = parseDuration(value);
  if (ms === undefined) return `expected ${DURATION}, got ${describeValue(value)}`;
  if (ms < 1) return `expected a duration of at least 1ms, got ${describeValue(value)}`;
  if (ms > MAX_TIMEOUT_MS) return `expected a duration of at most 596h, got ${describeValue(value)}`;
  return undefined;
});

// Node rejects header values with control characters when the message is written.
const HEADER_VALUE = 'a header value (printable characters; "" removes the header)';
export function headerValueProblem(value: string): string | undefined {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value)
    ? undefined
    : `expected ${HEADER_VALUE}, got ${describeValue(value)}`;
}
export const headerValue = checked(HEADER_VALUE, headerValueProblem);

/**
 * A header value as Istio's examples write it (`set: { test: true }` is a YAML boolean): a
 * string, number or boolean, turned into text.
 */
export const headerValueScalar = expecting(
  HEADER_VALUE,
  v.pipe(
    v.union([v.string(), v.number(), v.boolean()], got(HEADER_VALUE)),
    v.transform((value) => String(value)),
    v.check(
      (value) => headerValueProblem(value) === undefined,
      (issue) => headerValueProblem(String(issue.input)) ?? got(HEADER_VALUE)(issue),
    ),
  ),
);
