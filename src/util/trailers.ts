// A side channel for HTTP trailers. A Web `Response` cannot carry them, so an upstream client that
// reads trailers registers a promise for them under the response's body stream, and a listener
// that can write trailers looks it up. Keyed by the body stream, not the Response: `new
// Response(res.body, ...)` keeps the same stream object on Bun, Deno and Node, so the trailers
// follow a response through the proxy's re-wrapping without every step having to copy them.

const registry = new WeakMap<ReadableStream<Uint8Array>, Promise<Headers | undefined>>();

/** Records that `body`, once read to its end, is followed by these trailers (undefined: none). */
export function attachTrailers(
  body: ReadableStream<Uint8Array>,
  trailers: Promise<Headers | undefined>,
): void {
  // A body nobody reads must not leave a rejected promise unhandled.
  trailers.catch(() => {});
  registry.set(body, trailers);
}

/** The trailers promised for a response's body, if its upstream client reads trailers. */
export function trailersOf(res: Response): Promise<Headers | undefined> | undefined {
  return res.body ? registry.get(res.body) : undefined;
}
