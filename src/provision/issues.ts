// Provisioning reports each problem at the place in the configuration that caused it, as the
// same ConfigIssue config/ reports: errors stop startup, warnings are only shown.

import type { ConfigIssue, Severity, Source } from "../util/errors.ts";

/** `field` extends the source's path (".tls.caCrl", ".match[0].port"). */
export function issueAt(
  source: Source,
  message: string,
  field = "",
  severity: Severity = "error",
): ConfigIssue {
  return { file: source.file, line: source.line, path: source.path + field, message, severity };
}

export function warningAt(source: Source, message: string, field = ""): ConfigIssue {
  return issueAt(source, message, field, "warning");
}
