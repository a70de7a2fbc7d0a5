// The one place where request-time failures become status codes and bodies (DESIGN.md
// "Behaviour contracts"). Bodies follow Envoy's wording so logs and clients read the same.

import { UpstreamTimeoutError, UpstreamUnavailableError } from "../errors.ts";

export function errorResponse(err: unknown, serverHeader: string): Response {
  let status = 500;
  let body = "internal error\n";
  if (err instanceof UpstreamTimeoutError) {
    status = 504;
    body = "upstream request timeout";
  } else if (err instanceof UpstreamUnavailableError) {
    status = 503;
    body = `upstream connect error or disconnect/reset before headers. reset reason: ${err.message}`;
  }
  const headers: Record<string, string> = { "content-type": "text/plain" };
  if (serverHeader) headers.server = serverHeader;
  return new Response(body, { status, headers });
}
