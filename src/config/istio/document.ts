// One Kubernetes-style document from a YAML file, with what is needed to report problems at
// their line: `ctx.report(["spec", "servers", 0, "port"], "...")`.
import type { Context } from "../load.ts";

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
