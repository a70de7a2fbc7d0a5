// One Kubernetes-style document from a YAML file, with the reporter that locates its fields:
// `doc.ctx.report(["spec", "servers", 0, "port"], "...")`.
import type { DocumentReporter } from "../report.ts";

export interface IstioDoc {
  kind: string;
  apiVersion: string;
  name: string;
  raw: Record<string, unknown>;
  ctx: DocumentReporter;
}
