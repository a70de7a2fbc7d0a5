// The one reading of socket errors. Bun, Deno and Node report the same failure differently: Bun
// sets code "ConnectionRefused", Node "ECONNREFUSED" (on the error, or on its cause for fetch),
// Deno's node:http and Deno.listen often say it only in the message ("Connection refused (os
// error 111)") or the name ("AddrInUse"). Callers decide what a kind means for them: a 503
// reason and a retry condition (http/), a listen error message (listeners/).

export type RuntimeErrorKind =
  /** HTTP/2 REFUSED_STREAM: the upstream did not process the request. */
  | "refused-stream"
  /** Nothing listens at the address (ECONNREFUSED). */
  | "connection-refused"
  /**
   * No connection within the connect timeout: Portico's own (UpstreamConnectTimeoutError), or
   * the OS's (`connect ETIMEDOUT`), or undici's (UND_ERR_CONNECT_TIMEOUT, "Connect Timeout Error").
   */
  | "connect-timeout"
  /** The address could not be reached or resolved (DNS, no route, socket not opened). */
  | "unreachable"
  /** An open connection was reset or closed. */
  | "connection-closed"
  /** Binding failed: the port is taken. */
  | "address-in-use"
  /** Binding failed: not allowed (ports below 1024 without the privilege). */
  | "permission-denied"
  | "other";

export interface RuntimeErrorInfo {
  kind: RuntimeErrorKind;
  /** The error's code, or its cause's; "" when neither has one. */
  code: string;
  /** The error's own message, as it came. */
  message: string | undefined;
}

interface ErrorLike {
  code?: string;
  name?: string;
  message?: string;
  cause?: { code?: string; message?: string };
}

// First match wins. A connect failure is decided before there is a connection, so its wording
// outranks "closed" or "reset" in the same error.
const KINDS: [RuntimeErrorKind, RegExp][] = [
  ["refused-stream", /REFUSED_STREAM/i],
  ["connection-refused", /refused/i],
  ["connect-timeout", /ConnectTimeout|Connect(ion)? Timeout|connect ETIMEDOUT/i],
  ["unreachable", /ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|FailedToOpenSocket|Unable to connect/i],
  ["connection-closed", /reset|closed/i],
  ["address-in-use", /EADDRINUSE|AddrInUse|in use/i],
  ["permission-denied", /EACCES|PermissionDenied|permission denied/i],
];

export function classifyError(err: unknown): RuntimeErrorInfo {
  const e = err as ErrorLike | null | undefined;
  const code = e?.code ?? e?.cause?.code ?? "";
  const text = [e?.code, e?.name, e?.message, e?.cause?.code, e?.cause?.message].join(" ");
  const kind = KINDS.find(([, re]) => re.test(text))?.[0] ?? "other";
  return { kind, code, message: e?.message };
}
