// The request body limit (listener limits.maxRequestBodyBytes, or a route's own): a declared
// Content-Length over it is refused before a byte of the body is read, and a body without one
// (chunked HTTP/1.1, HTTP/2 DATA without content-length) is counted as it streams and cut once it
// passes the limit. Either way the answer is 413 Payload Too Large, Envoy's buffer filter's reply
// (source/extensions/filters/http/buffer: sendLocalReply(PayloadTooLarge, "Payload Too Large")).
// Only requests whose route has a limit pay for any of this.

import { ownResponse } from "./responses.ts";
import type { ProxyRequest } from "../listeners/_shared/types.ts";

/** Envoy's local reply body for 413. */
const TOO_LARGE = "Payload Too Large";

/** The request declares a body longer than `max` bytes. */
export function declaredTooLarge(req: ProxyRequest, max: number): boolean {
  const length = req.headers.get("content-length");
  return length !== null && Number(length) > max;
}

/** 413; app.ts adds `connection: close` on HTTP/1.x, where the rest of the body stays unread. */
export function payloadTooLarge(serverHeader: string): Response {
  return ownResponse(413, TOO_LARGE, serverHeader, { "content-type": "text/plain" });
}

/** A body stream that errors once more than `max` bytes passed; `exceeded` says whether it did. */
export class LimitedBody {
  exceeded = false;
  readonly stream: ReadableStream<Uint8Array>;

  constructor(body: ReadableStream<Uint8Array>, max: number) {
    let seen = 0;
    // preventCancel: the source is left paused, not destroyed, so the 413 can still be written
    // on the client's connection (which then closes).
    this.stream = body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, controller) => {
          seen += chunk.byteLength;
          if (seen > max) {
            this.exceeded = true;
            controller.error(new RangeError(`request body over ${max} bytes`));
            return;
          }
          controller.enqueue(chunk);
        },
      }),
      { preventCancel: true },
    );
  }
}
