// The request node:http and node:http2 servers hand the handler: a ProxyRequest (types.ts) read
// straight off the IncomingMessage / Http2ServerRequest, with no Web Request behind it. Its URL,
// method and headers are what @hono/node-server (src/url.ts, src/request.ts, src/headers.ts,
// v2.1.9), which this replaces, gave; the body is a stream over the incoming message with
// backpressure, made only when read; the signal is made only when read, and aborted when the
// client goes away before the response has ended (node-response.ts, clientGone).

import type { IncomingMessage } from "node:http";
import { constants, type Http2ServerRequest } from "node:http2";
import { ClientGoneError } from "../../util/errors.ts";
import type { ProxyRequest } from "./types.ts";

const { NGHTTP2_NO_ERROR } = constants;

export type NodeIncoming = IncomingMessage | Http2ServerRequest;

/** The request cannot be given a URL (a client error: the caller answers 400). */
export class UnaddressableRequest extends Error {}

export class NodeRequest implements ProxyRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly incoming: NodeIncoming;
  #body: ReadableStream<Uint8Array> | null | undefined;
  #abort: AbortController | undefined;
  /** The client went away before the response ended (set by clientGone). */
  gone = false;

  /** Throws UnaddressableRequest when the target and Host (:authority) make no URL. */
  constructor(incoming: NodeIncoming, h2: boolean) {
    this.incoming = incoming;
    this.method = normalizeMethod(incoming.method);
    this.url = requestUrl(incoming, h2);
    this.headers = headersOf(incoming.rawHeaders);
    // GET and HEAD bodies are not forwarded (@hono/node-server gave them none, nor TRACE); an
    // HTTP/1.1 request with neither Content-Length nor Transfer-Encoding has none (RFC 9112
    // §6.3), nor an h2 stream that ended with its HEADERS.
    const m = this.method;
    if (m === "GET" || m === "HEAD" || m === "TRACE") this.#body = null;
    else if (
      h2 ? (incoming as Http2ServerRequest).stream.endAfterHeaders : noBody(incoming as IncomingMessage)
    )
      this.#body = null;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#body === undefined) this.#body = new ReadableStream(new BodySource(this.incoming));
    return this.#body;
  }

  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.gone) this.#abort.abort(new ClientGoneError("the client closed the request"));
    }
    return this.#abort.signal;
  }

  /** The whole body (retries and mirrors send it again: replay.ts). */
  arrayBuffer(): Promise<ArrayBuffer> {
    const body = this.body;
    return body === null ? Promise.resolve(new ArrayBuffer(0)) : new Response(body).arrayBuffer();
  }

  /** The client went away before the response ended: whoever holds the signal stops. */
  abort(): void {
    this.gone = true;
    this.#abort?.abort(new ClientGoneError("the client closed the request"));
  }

  /**
   * The response has ended before the body did (an answer that needs no body, a 413): as
   * @hono/node-server did, after two turns of the loop (its end may just be on its way), an h2
   * stream is closed with NO_ERROR (RFC 9113 §8.1: the client stops sending), and an HTTP/1.1
   * body is read and dropped for up to DRAIN_MS, then the connection closed.
   */
  discardBody(): void {
    setTimeout(discardLater, 0, this.incoming, 1);
  }

  /** Whether the body may still be arriving (the response ended without reading it all). */
  get bodyPending(): boolean {
    return this.#body !== null && !this.incoming.readableEnded;
  }
}

const DRAIN_MS = 500;

function discardLater(incoming: NodeIncoming, turns: number): void {
  if (incoming.readableEnded || incoming.destroyed) return;
  if (turns > 0) return void setTimeout(discardLater, 0, incoming, turns - 1);
  detach(incoming as Sourced);
  if ("stream" in incoming) {
    try {
      incoming.stream.close(NGHTTP2_NO_ERROR);
    } catch {
      // Already closed.
    }
    return;
  }
  incoming.resume();
  setTimeout(drainTimeout, DRAIN_MS, incoming).unref();
}

function drainTimeout(incoming: IncomingMessage): void {
  if (!incoming.readableEnded) incoming.socket.destroy();
}

function noBody(incoming: IncomingMessage): boolean {
  const h = incoming.headers;
  return h["content-length"] === undefined && h["transfer-encoding"] === undefined;
}

// Fetch's method normalisation (https://fetch.spec.whatwg.org/#concept-method-normalize), as
// @hono/node-server's normalizeIncomingMethod: h2 :method arrives as sent; an empty one is GET.
function normalizeMethod(method: string | undefined): string {
  if (!method) return "GET";
  switch (method) {
    case "GET":
    case "POST":
    case "HEAD":
    case "PUT":
    case "DELETE":
    case "OPTIONS":
    case "PATCH":
      return method;
  }
  const upper = method.toUpperCase();
  switch (upper) {
    case "DELETE":
    case "GET":
    case "HEAD":
    case "OPTIONS":
    case "POST":
    case "PUT":
      return upper;
  }
  return method;
}

/** Every field as received (duplicates appended); h2 pseudo-headers are not fields. */
function headersOf(raw: string[]): Headers {
  const headers = new Headers();
  try {
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.charCodeAt(0) !== 0x3a) headers.append(name, raw[i + 1]!);
    }
  } catch (err) {
    // A name or value Fetch refuses (the parsers let few through): the client's mistake.
    throw new UnaddressableRequest("a header field Fetch refuses", { cause: err });
  }
  return headers;
}

// @hono/node-server src/url.ts: a target and Host that need no parsing are joined as they are;
// anything else goes through WHATWG URL, and a Host that URL reads differently is refused.
const PLAIN_TARGET = /^\/[!#$&-;=?-[\]_a-z~]*$/;
const DOT_SEGMENT = /\/\.\.?(?:[/?#]|$)/;
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

function requestUrl(incoming: NodeIncoming, h2: boolean): string {
  // A backslash was made "/" already (node-http.ts); the handler has the raw target.
  const target = incoming.url || "";
  if (target.charCodeAt(0) !== 0x2f && (target.startsWith("http://") || target.startsWith("https://"))) {
    // RFC 9113 §8.3.1: :path is origin-form (or "*"); absolute-form is HTTP/1.1's alone.
    if (h2) throw new UnaddressableRequest("absolute-form :path");
    return parsed(target);
  }
  const host = h2 ? (incoming as Http2ServerRequest).authority : (incoming as IncomingMessage).headers.host;
  if (!host) throw new UnaddressableRequest("no Host");
  let scheme: string;
  if (h2) {
    scheme = (incoming as Http2ServerRequest).scheme;
    if (scheme !== "http" && scheme !== "https") throw new UnaddressableRequest("unsupported :scheme");
  } else scheme = (incoming.socket as { encrypted?: boolean }).encrypted ? "https" : "http";
  const url = `${scheme}://${host}${target}`;
  if (!PLAIN_HOST.test(host)) {
    const href = parsed(url);
    const hostname = new URL(href).hostname;
    const bare = (host.includes(":") ? host.replace(/:\d+$/, "") : host).toLowerCase();
    if (hostname.length !== host.length && hostname !== bare)
      throw new UnaddressableRequest("Host reads differently");
    return href;
  }
  if (target.length === 0) return `${url}/`;
  // "*" (OPTIONS) and authority-form have no URL of their own.
  if (target.charCodeAt(0) !== 0x2f) throw new UnaddressableRequest("not origin-form");
  if (!PLAIN_TARGET.test(target) || DOT_SEGMENT.test(target)) return parsed(url);
  return url;
}

function parsed(url: string): string {
  try {
    return new URL(url).href;
  } catch (err) {
    throw new UnaddressableRequest("no URL", { cause: err });
  }
}

/**
 * The body as a Web stream: one chunk queued at most, the incoming message paused until it is
 * read (backpressure reaches the client through TCP or h2 flow control). Cancelling it destroys
 * the incoming message, as Node's Readable.toWeb (which @hono/node-server used) does.
 */
class BodySource implements UnderlyingDefaultSource<Uint8Array> {
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  constructor(readonly incoming: NodeIncoming) {}

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
    const incoming = this.incoming as Sourced;
    if (incoming.readableEnded) return controller.close();
    if (incoming.destroyed) return controller.error(new ClientGoneError("the client closed the request"));
    incoming[SOURCE] = this;
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
    incoming.on("close", onClose);
  }

  pull(): void {
    this.incoming.resume();
  }

  cancel(reason: unknown): void {
    detach(this.incoming as Sourced);
    this.incoming.destroy(reason instanceof Error ? reason : undefined);
  }
}

const SOURCE = Symbol("portico.bodySource");
type Sourced = NodeIncoming & { [SOURCE]?: BodySource };

// Listeners shared by every request body (the emitter is `this`), not closures per request.
function onData(this: Sourced, chunk: Buffer): void {
  const c = this[SOURCE]!.controller!;
  c.enqueue(chunk);
  if (c.desiredSize! <= 0) this.pause();
}

function onEnd(this: Sourced): void {
  const source = this[SOURCE];
  detach(this);
  source?.controller!.close();
}

function onError(this: Sourced, err: Error): void {
  const source = this[SOURCE];
  detach(this);
  source?.controller!.error(err);
}

function onClose(this: Sourced): void {
  // "close" follows "end" when the body was complete; before it, the client went away.
  const source = this[SOURCE];
  if (source === undefined || this.readableEnded) return;
  detach(this);
  source.controller!.error(new ClientGoneError("the client closed the request before its body ended"));
}

function detach(incoming: Sourced): void {
  if (incoming[SOURCE] === undefined) return;
  incoming[SOURCE] = undefined;
  incoming.off("data", onData);
  incoming.off("end", onEnd);
  incoming.off("error", onError);
  incoming.off("close", onClose);
}
