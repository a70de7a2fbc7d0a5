// Writes a response whose body is followed by trailers (util/trailers.ts) on a node:http or
// node:http2 compatibility response: headers as they are (no content-length invented), the body
// with backpressure, then the trailers (HTTP/2 trailing HEADERS, or an HTTP/1.1 chunked trailer).

import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { plainHeaders } from "./node-response.ts";

export async function writeWithTrailers(
  res: Response,
  trailers: Promise<Headers | undefined>,
  out: ServerResponse | Http2ServerResponse,
): Promise<void> {
  const reader = res.body!.getReader();
  let closed = false;
  const onClose = () => {
    closed = true;
    // The client went away: stop reading, which cancels the upstream stream too.
    reader.cancel().catch(() => {});
  };
  out.once("close", onClose);
  try {
    (out as ServerResponse).writeHead(res.status, plainHeaders(res.headers));
    for (;;) {
      const { done, value } = await reader.read();
      if (done || closed) break;
      if (!(out as ServerResponse).write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => (out.off("drain", go), out.off("close", go), resolve());
          out.on("drain", go);
          out.on("close", go);
        });
      }
    }
    if (closed) return;
    const t = await trailers;
    if (t) out.addTrailers(plainHeaders(t));
    out.end();
  } catch (err) {
    // The upstream reset mid-body: the client's stream is reset too, never ended as if complete.
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  } finally {
    out.off("close", onClose);
  }
}

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
