// The one place where request-time failures become status codes and bodies. Bodies follow
// Envoy's wording so logs and clients read the same.

import { UpstreamTimeoutError, UpstreamUnavailableError } from "../util/errors.ts";
import { plainText } from "./responses.ts";

export function errorResponse(err: unknown, serverHeader: string): Response {
  if (err instanceof UpstreamTimeoutError) return plainText(504, "upstream request timeout", serverHeader);
  if (err instanceof UpstreamUnavailableError) {
    const body = `upstream connect error or disconnect/reset before headers. reset reason: ${err.message}`;
    return plainText(503, body, serverHeader);
  }
  return plainText(500, "internal error\n", serverHeader);
}
