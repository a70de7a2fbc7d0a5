// ListenerEvents.responseEnd for Bun.serve, which has no per-response completion callback: the
// body is re-wrapped in a stream that counts what Bun reads from it and reports when it is read
// to the end (or cancelled: the client left). Only done when the listener has the hook, so the
// plain path keeps Bun's own body handling. A Content-Length header stays (Bun honours it for a
// stream body, checked on Bun 1.3), and trailers follow the new body (util/trailers.ts).

import { attachTrailers, trailersOf } from "../../util/trailers.ts";
import type { ResponseEnd } from "./types.ts";

type Hook = (res: Response, end: ResponseEnd) => void;

export function withResponseEnd(res: Response, hook: Hook): Response {
  const src = res.body;
  if (src === null) {
    // Nothing left to write but the head, which Bun sends once this returns.
    queueMicrotask(() => hook(res, { bytesSent: 0, clientClosed: false }));
    return res;
  }
  const reader = src.getReader();
  let bytes = 0;
  let ended = false;
  const end = (clientClosed: boolean) => {
    if (ended) return;
    ended = true;
    hook(res, { bytesSent: bytes, clientClosed });
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          end(false);
        } else {
          bytes += value.byteLength;
          controller.enqueue(value);
        }
      } catch (err) {
        end(false);
        controller.error(err);
      }
    },
    cancel(reason) {
      end(true);
      return reader.cancel(reason);
    },
  });
  const trailers = trailersOf(res);
  if (trailers) attachTrailers(body, trailers);
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
