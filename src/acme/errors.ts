// The errors of the ACME lifecycle. A CA's refusal keeps its problem document (RFC 8555 §6.7,
// RFC 7807) verbatim: that text is what the log and `/certs` show, and what a person pastes
// into a search or a bug report.

import { PorticoError } from "../util/errors.ts";

export class AcmeError extends PorticoError {}

/** The CA answered with an error: `problem` is its document as received (JSON text). */
export class AcmeProblemError extends AcmeError {
  constructor(
    message: string,
    readonly problem: string,
    readonly status: number,
    /** The CA's Retry-After, in ms from now (RFC 8555 §6.6, rate limits). */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The problem's `type` without the `urn:ietf:params:acme:error:` prefix ("badNonce", ...). */
  get type(): string {
    try {
      const t = String((JSON.parse(this.problem) as { type?: string }).type ?? "");
      return t.replace("urn:ietf:params:acme:error:", "");
    } catch {
      return "";
    }
  }
}
