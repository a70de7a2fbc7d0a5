// `x-portico-worker: <index>` on every response of a worker process, when PORTICO_DEBUG_WORKER=1:
// shows which worker of `portico run --workers N` served a request (tests, debugging the spread).
// Off by default; when off the handler is not wrapped at all.
import type { RequestHandler } from "../listeners/_shared/types.ts";

export function withWorkerHeader(handler: RequestHandler): RequestHandler {
  const worker = process.env.PORTICO_WORKER;
  if (worker === undefined || process.env.PORTICO_DEBUG_WORKER !== "1") return handler;
  const tag = (res: Response) => {
    try {
      res.headers.set("x-portico-worker", worker);
    } catch {
      // Immutable headers (a fetch() response passed through as is): left untagged.
    }
    return res;
  };
  return async (req, conn, target) => tag(await handler(req, conn, target));
}
