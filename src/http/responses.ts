// Responses Portico writes itself (not the upstream's): each carries the configured `server`
// header, and none when settings.serverHeader is "".

const own = new WeakSet<Response>();

export function ownResponse(
  status: number,
  body: BodyInit | null,
  serverHeader: string,
  headers: Record<string, string>,
): Response {
  if (serverHeader) headers.server = serverHeader;
  // A body known whole is sent with its length, as Envoy's local replies are (and Bun.serve does
  // by itself); the node:http / node:http2 bridge writes the headers it is given.
  // (RFC 9110 §8.6: never on a 204 or 304.)
  if (typeof body === "string" && status !== 204 && status !== 304 && headers["content-length"] === undefined)
    headers["content-length"] = String(Buffer.byteLength(body));
  const res = new Response(body, { status, headers });
  own.add(res);
  return res;
}

/** Portico wrote it (an error, a 404, a direct response), not an upstream. */
export function isOwnResponse(res: Response): boolean {
  return own.has(res);
}

export function empty(status: number, serverHeader: string, extra?: Record<string, string>): Response {
  // An explicit length keeps HTTP/1.1 from switching to chunked encoding for an empty body.
  return ownResponse(status, null, serverHeader, { ...extra, "content-length": "0" });
}

export function plainText(status: number, body: string | null, serverHeader: string): Response {
  return ownResponse(status, body, serverHeader, { "content-type": "text/plain" });
}
