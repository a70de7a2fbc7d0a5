// A gRPC trailers-only answer on a node:http2 compatibility response (a body followed by
// trailers is written by node-response.ts).

import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { plainHeaders } from "./node-response.ts";

/**
 * A gRPC trailers-only response (grpc-status in the headers, no body) must be one HEADERS frame
 * with END_STREAM: the compatibility API's writeHead + end sends an empty DATA frame after
 * the headers, and gRPC clients then see no status. Writes it and returns true when it is one.
 */
export function trailersOnly(res: Response, out: ServerResponse | Http2ServerResponse): boolean {
  if (res.body !== null || !res.headers.has("grpc-status") || !("stream" in out)) return false;
  out.stream.respond({ ":status": res.status, ...plainHeaders(res.headers) }, { endStream: true });
  return true;
}
