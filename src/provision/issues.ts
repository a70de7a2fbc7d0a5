// Provisioning reports each problem at the place in the configuration that caused it: errors
// as ConfigIssue (they stop startup), warnings as the text formatIssue writes for an issue.

import type { Source } from "../config/model.ts";
import { type ConfigIssue, formatIssue } from "../util/errors.ts";

/** `field` extends the source's path (".tls.caCrl", ".match[0].port"). */
export function issueAt(source: Source, message: string, field = ""): ConfigIssue {
  return { file: source.file, line: source.line, path: source.path + field, message };
}

export function warningAt(source: Source, message: string, field = ""): string {
  return formatIssue(issueAt(source, message, field));
}
