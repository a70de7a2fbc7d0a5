// What every adapter does when the handler throws (the handler catches what it expects, so this
// is a bug): log it, and answer 500 with nothing of the error in the response.
import type { HttpListenerSpec } from "./types.ts";

export function internalError(spec: HttpListenerSpec, err: unknown): Response {
  spec.onError?.(err as Error);
  return new Response(null, { status: 500 });
}
