// Named errors, each with the cause that led to it, and the one ConfigIssue type (with its one
// text, formatIssue) for configuration errors and warnings from config/, provision/ and the CLI.
// Status-code mapping for request-time errors lives in one place: src/http/error-status.ts.

import { HIDDEN_KEY_TEXT, mayBeKeyMaterial } from "./key-material.ts";

export class PorticoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Where a value was written in the configuration: used only for messages. */
export interface Source {
  file: string;
  /** 1-based; 0 when the position is unknown. */
  line: number;
  /** Field path such as `listeners[0].servers[1].tls.mode`; empty for the whole document. */
  path: string;
}

/** An error stops the load (config, provisioning); a warning is only shown. */
export type Severity = "error" | "warning";

/**
 * One problem found in the configuration, located in its file: what config/, provision/ and the
 * CLI hand around for errors and warnings alike, turned into text only by formatIssue.
 */
export interface ConfigIssue extends Source {
  message: string;
  severity: Severity;
}

/** An issue about a whole file or document (no field path). */
export function fileIssue(
  file: string,
  line: number,
  message: string,
  severity: Severity = "error",
): ConfigIssue {
  return { file, line, path: "", message, severity };
}

/** `file:line: path: message`, the one text of an issue, error or warning. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}` : issue.file;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** The configuration cannot be used; `issues` lists every problem found, not just the first. */
export class ConfigError extends PorticoError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], options?: { cause?: unknown }) {
    super(issues.map(formatIssue).join("\n"), options);
    this.issues = issues;
  }
}

/** The command line is wrong; the CLI prints the message with its usage and exits 2. */
export class UsageError extends PorticoError {}

/**
 * Why a file or folder could not be read, in the words every "cannot read" message uses
 * (`cannotRead`, and `unreadableFile` for an issue whose `file` already names the file).
 */
export function readFailureReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT") return "no such file or folder";
  if (e.code === "EACCES") return "permission denied";
  if (e.code === "EISDIR") return "is a folder, expected a file";
  return e.code ?? (err instanceof Error ? err.message : String(err));
}

/** `cannot read <what> <file>: <reason>`: "cannot read certificate tls.crt: no such file or folder". */
export function cannotRead(file: string, err: unknown, what?: string): string {
  // Key text pasted where a path belongs must not come back in the message.
  if (mayBeKeyMaterial(file))
    return `cannot read ${what ?? "file"}: expected a file path, got ${HIDDEN_KEY_TEXT}`;
  return `cannot read ${what ? `${what} ` : ""}${file}: ${readFailureReason(err)}`;
}

/** A configuration file or folder that cannot be read: `routes.yaml: cannot read: no such file or folder`. */
export function unreadableFile(file: string, err: unknown): ConfigIssue {
  return fileIssue(file, 0, `cannot read: ${readFailureReason(err)}`);
}

/** A request body passed its limit while streaming (http/body-limit.ts). Mapped to 413. */
export class RequestBodyTooLargeError extends PorticoError {}

/** The client went away before its request body ended (the body stream errors with it). */
export class ClientGoneError extends PorticoError {}

/** A listener could not be started (port in use, permission denied, ...). */
export class ListenError extends PorticoError {}

/** The upstream refused, reset or could not be reached. Mapped to 503. */
export class UpstreamUnavailableError extends PorticoError {}

/**
 * A circuit-breaker limit of the service's pool refused the request (Envoy's reset reason
 * "overflow", flag UO). Mapped to 503 with `x-envoy-overloaded: true`.
 */
export class UpstreamOverflowError extends UpstreamUnavailableError {}

/**
 * A connection to an upstream (TCP, and for https the TLS handshake too) was not established
 * within the pool's connectTimeout: a connect failure (Envoy's reset reason "connection timeout",
 * flag UF), which outlier detection counts as a local-origin failure and `connect-failure`
 * retries. `code` as the OS reports a connect that timed out.
 */
export class UpstreamConnectTimeoutError extends PorticoError {
  readonly code = "ETIMEDOUT";
}

/** The service's pool has no endpoint that may take the request (Envoy's flag UH). Mapped to 503. */
export class NoHealthyUpstreamError extends PorticoError {}

/** The upstream did not answer within the route timeout. Mapped to 504. */
export class UpstreamTimeoutError extends PorticoError {}

/** An Upgrade (WebSocket) request was answered with something other than 101; logged. */
export class UpgradeFailedError extends PorticoError {}
