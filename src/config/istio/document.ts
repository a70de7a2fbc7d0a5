// One Kubernetes-style document from a YAML file, with what is needed to report problems at
// their line: `ctx.report(["spec", "servers", 0, "port"], "...")`.
import * as v from "valibot";
import type { Context } from "../load.ts";
import type { Source } from "../model.ts";
import type { Reporter } from "../tcp-route.ts";
import type { FieldPath } from "../yaml-locate.ts";

export interface IstioDoc {
  kind: string;
  apiVersion: string;
  name: string;
  raw: Record<string, unknown>;
  ctx: Context;
}

/** Fields present in `value` but not in `known`, to be reported as unsupported or unknown. */
export function extraKeys(value: unknown, known: readonly string[]): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return Object.keys(value).filter((k) => !known.includes(k));
}

/** Checks `value` (found at `at`) against a schema; every issue is reported. Undefined when there were any. */
export function validate<S extends v.GenericSchema>(schema: S, value: unknown, at: FieldPath, doc: IstioDoc): v.InferOutput<S> | undefined {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  for (const issue of result.issues) doc.ctx.report([...at, ...(issue.path ?? []).map((item) => item.key as string | number)], issue.message);
  return undefined;
}

/**
 * A Reporter for the builders shared with routes.yaml (tcp-route.ts), which report at
 * routes.yaml paths (`listeners[0].servers[1]`, `routes[0].tls[2]`): each path is translated to
 * where the value sits in an Istio document, and so are paths quoted in messages.
 */
export function translatedReporter(
  translate: (path: FieldPath) => { doc: IstioDoc; path: FieldPath } | undefined,
  fallback: IstioDoc,
  rewrite: (message: string) => string = (m) => m,
): Reporter {
  const where = (path: FieldPath) => translate(path) ?? { doc: fallback, path };
  return {
    source(path: FieldPath): Source {
      const t = where(path);
      return t.doc.ctx.source(t.path);
    },
    report(path: FieldPath, message: string): void {
      const t = where(path);
      t.doc.ctx.report(t.path, rewrite(message));
    },
  };
}
