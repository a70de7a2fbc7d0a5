// The ACME client's HTTPS: node:https, because a private or test CA (Pebble) is trusted with its
// own bundle, which `fetch` cannot take on Node; node:https takes `ca` on Bun, Deno and Node.

import { request } from "node:https";
import { AcmeError } from "./errors.ts";

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One answer per request, with a bound on time: a silent CA fails the step, not the process. */
export function httpsRequest(
  url: string,
  opts: { method: "GET" | "POST" | "HEAD"; headers?: Record<string, string>; body?: string; ca?: string },
  timeoutMs = 30_000,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method, headers: opts.headers, ca: opts.ca, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", (err) => reject(new AcmeError(`${url}: ${err.message}`, { cause: err })));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on("error", (err) => reject(new AcmeError(`${opts.method} ${url}: ${err.message}`, { cause: err })));
    req.end(opts.body);
  });
}

/** A header's one value (node gives arrays for repeated headers). */
export function header(a: HttpAnswer, name: string): string | undefined {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After (RFC 9110 §10.2.3): seconds or an HTTP date, as ms from now. */
export function retryAfterMs(a: HttpAnswer, now = Date.now()): number | undefined {
  const v = header(a, "retry-after");
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
