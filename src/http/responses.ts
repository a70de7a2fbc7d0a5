// Responses the proxy writes itself, with no body.

export function empty(status: number, serverHeader: string, extra?: Record<string, string>): Response {
  // An explicit length keeps HTTP/1.1 from switching to chunked encoding for an empty body.
  const headers: Record<string, string> = { ...extra, "content-length": "0" };
  if (serverHeader) headers.server = serverHeader;
  return new Response(null, { status, headers });
}
