// The request as the proxy reads it, whichever server received it (a leaf module: listeners,
// http and provision all name it).

/**
 * What the handler reads of a request. A Web `Request` (Bun.serve) is one; node:http and
 * node:http2 requests get a lighter object (listeners/_shared/node-request.ts) that builds no
 * `Request`.
 */
export interface ProxyRequest {
  readonly method: string;
  /** Absolute: scheme, authority (Host or :authority), target. */
  readonly url: string;
  readonly headers: Headers;
  /** Null when the request has no body. */
  readonly body: ReadableStream<Uint8Array> | null;
  /** Aborted when the client goes away before the response has ended. */
  readonly signal: AbortSignal;
  arrayBuffer(): Promise<ArrayBuffer>;
}
