// How every config builder reports a problem: at a field path of the YAML document it is reading
// (`routes[0].http[1].timeout` in routes.yaml, `spec.http[1].timeout` in a VirtualService). A
// builder is handed the path it is called at and appends its own fields, so a message names the
// field as the user wrote it; nothing is translated afterwards. Errors and warnings are the same
// object (ConfigIssue) and are turned into text in one place (formatIssue in src/util/errors.ts).

import type { Document, LineCounter, YAMLError } from "yaml";
import { ConfigError, type ConfigIssue, type Severity, type Source } from "../util/errors.ts";
import { TOO_DEEP } from "./yaml-bounds.ts";
import { formatPath, locateLine, type FieldPath } from "./yaml-locate.ts";

/** What a builder needs: locate a path of the document, and report a problem there. */
export interface Reporter {
  source(path: FieldPath): Source;
  report(path: FieldPath, message: string, severity?: Severity): void;
}

/** `file:line (path)`: how one message points at another place, possibly in another file. */
export function placeOf(source: Source): string {
  return `${source.file}:${source.line} (${source.path})`;
}

/** Collects the issues of one YAML document, each located at its line. */
export class DocumentReporter implements Reporter {
  private readonly issues: ConfigIssue[] = [];
  private readonly seen = new Set<string>();

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  source(path: FieldPath): Source {
    return { file: this.file, line: locateLine(this.doc, this.lineCounter, path), path: formatPath(path) };
  }

  report(path: FieldPath, message: string, severity: Severity = "error"): void {
    const issue = { ...this.source(path), message, severity };
    // One bad value can fail several rules with the same message (e.g. 0.5 for a port).
    const key = `${issue.path}\n${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.issues.push(issue);
  }

  get failed(): boolean {
    return this.issues.some((issue) => issue.severity === "error");
  }

  /** This document's issues of one severity in line order, so a report reads like the file. */
  list(severity: Severity): ConfigIssue[] {
    return this.issues.filter((issue) => issue.severity === severity).toSorted((a, b) => a.line - b.line);
  }

  error(): ConfigError {
    return new ConfigError(this.list("error"));
  }
}

/** The YAML parser's errors of one document as issues, each line and message once. */
export function yamlIssues(
  errors: readonly YAMLError[],
  issue: (line: number, message: string) => ConfigIssue,
  lineOf: (pos: number) => number,
): ConfigIssue[] {
  const seen = new Set<string>();
  const out: ConfigIssue[] = [];
  for (const e of errors) {
    const line = lineOf(e.pos[0]);
    const message = yamlMessage(e);
    const key = `${line}\n${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue(line, message));
  }
  return out;
}

/** The YAML parser's own errors, with a hint where the usual mistake is known. */
export function yamlMessage(error: YAMLError): string {
  if (error.code === "MULTIPLE_DOCS") {
    return "invalid YAML: expected one document, found several separated by ---";
  }
  // The yaml package's parser recurses per level and reports its own stack overflow as an error
  // (once or more, depending on how deep the stack already was): the same words as the depth
  // check that catches shallower documents, so a reader sees one message whichever fired.
  if (error.message.startsWith("Maximum call stack size exceeded")) return TOO_DEEP;
  const hint = error.code === "BAD_ALIAS" ? '; quote "*" when it means a wildcard host' : "";
  return `invalid YAML: ${error.message}${hint}`;
}
