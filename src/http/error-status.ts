// The one place where request-time failures become status codes and bodies. Bodies follow
// Envoy's wording so logs and clients read the same.

import {
  NoHealthyUpstreamError,
  RequestBodyTooLargeError,
  UpstreamOverflowError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from "../util/errors.ts";
import { payloadTooLarge } from "./body-limit.ts";
import { plainText } from "./responses.ts";

export function errorResponse(err: unknown, serverHeader: string): Response {
  if (err instanceof UpstreamTimeoutError) return plainText(504, "upstream request timeout", serverHeader);
  if (err instanceof RequestBodyTooLargeError) return payloadTooLarge(serverHeader);
  // Envoy's router: "no healthy upstream" (UH); an overflow is a reset with reason "overflow"
  // and the x-envoy-overloaded header (router.cc, onUpstreamAbort).
  if (err instanceof NoHealthyUpstreamError) return plainText(503, "no healthy upstream", serverHeader);
  if (err instanceof UpstreamUnavailableError) {
    const body = `upstream connect error or disconnect/reset before headers. reset reason: ${err.message}`;
    const res = plainText(503, body, serverHeader);
    if (err instanceof UpstreamOverflowError) res.headers.set("x-envoy-overloaded", "true");
    return res;
  }
  return plainText(500, "internal error\n", serverHeader);
}
