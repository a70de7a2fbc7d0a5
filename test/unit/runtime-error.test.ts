// One classification of socket errors for the three runtimes, and what each caller makes of it.
// The samples are what Bun 1.4, Deno 2.9 and Node 26 throw (code, name, message as recorded).
import { describe, expect, test } from "bun:test";
import { classifyFailure } from "../../src/http/retry.ts";
import { listenError } from "../../src/listeners/_shared/listen-error.ts";
import type { ListenerSpec } from "../../src/listeners/_shared/types.ts";
import { classifyError, type RuntimeErrorKind } from "../../src/util/runtime-error.ts";

type Cause = { code?: string; message?: string };
const err = (code: string | undefined, name: string, message: string, cause?: Cause) =>
  Object.assign(new Error(message), { code, name, cause });

const samples: [string, Error, RuntimeErrorKind][] = [
  [
    "node:http refused",
    err("ECONNREFUSED", "Error", "connect ECONNREFUSED 127.0.0.1:1"),
    "connection-refused",
  ],
  [
    "Bun fetch refused",
    err(
      "ECONNREFUSED",
      "TypeError",
      "ECONNREFUSED: Unable to connect. Is the computer able to access the url?",
    ),
    "connection-refused",
  ],
  ["older Bun fetch refused", err("ConnectionRefused", "Error", "Unable to connect"), "connection-refused"],
  [
    "Deno refused (message only)",
    err(undefined, "Error", "Connection refused (os error 111)"),
    "connection-refused",
  ],
  [
    "undici refused (on the cause)",
    err(undefined, "TypeError", "fetch failed", { code: "ECONNREFUSED" }),
    "connection-refused",
  ],
  ["node:http DNS", err("ENOTFOUND", "Error", "getaddrinfo ENOTFOUND no-such-host.invalid"), "unreachable"],
  ["Bun DNS", err("ENOTFOUND", "DNSException", "getaddrinfo ENOTFOUND no-such-host.invalid"), "unreachable"],
  ["Bun socket", err("FailedToOpenSocket", "Error", "Was there a typo in the url or port?"), "unreachable"],
  ["node:http reset", err("ECONNRESET", "Error", "socket hang up"), "connection-closed"],
  [
    "Bun fetch reset",
    err("ECONNRESET", "TypeError", "ECONNRESET: The socket connection was closed unexpectedly."),
    "connection-closed",
  ],
  [
    "Bun fetch closed",
    err("ConnectionClosed", "Error", "The socket connection was closed"),
    "connection-closed",
  ],
  [
    "HTTP/2 refused stream",
    err("ERR_HTTP2_STREAM_ERROR", "Error", "Stream closed with error code NGHTTP2_REFUSED_STREAM"),
    "refused-stream",
  ],
  [
    "node listen in use",
    err("EADDRINUSE", "Error", "listen EADDRINUSE: address already in use 127.0.0.1:8080"),
    "address-in-use",
  ],
  [
    "Bun.serve in use",
    err("EADDRINUSE", "Error", "Failed to start server. Is port 8080 in use?"),
    "address-in-use",
  ],
  [
    "Deno.serve in use",
    err(undefined, "AddrInUse", "Address already in use (os error 98)"),
    "address-in-use",
  ],
  [
    "node listen denied",
    err("EACCES", "Error", "listen EACCES: permission denied 0.0.0.0:80"),
    "permission-denied",
  ],
  [
    "Deno listen denied",
    err(undefined, "PermissionDenied", "Permission denied (os error 13)"),
    "permission-denied",
  ],
  ["client abort", new DOMException("The operation was aborted.", "AbortError"), "other"],
];

describe("classifyError", () => {
  for (const [what, e, kind] of samples) test(what, () => expect(classifyError(e).kind).toBe(kind));

  test("the code comes from the error, else from its cause", () => {
    expect(classifyError(err("E1", "Error", "x", { code: "E2" })).code).toBe("E1");
    expect(classifyError(err(undefined, "Error", "x", { code: "E2" })).code).toBe("E2");
    expect(classifyError(new Error("x")).code).toBe("");
  });

  test("not an error at all", () => {
    expect(classifyError(undefined)).toEqual({ kind: "other", code: "", message: undefined });
    expect(classifyError("text").kind).toBe("other");
  });
});

describe("what callers make of it", () => {
  test("retries: refused or unreachable is a connect failure, a refused stream apart, others resets", () => {
    const failure = (kind: RuntimeErrorKind) => classifyFailure(samples.find(([, , k]) => k === kind)![1]);
    expect(failure("connection-refused")).toBe("connect");
    expect(failure("unreachable")).toBe("connect");
    expect(failure("refused-stream")).toBe("refused-stream");
    expect(failure("connection-closed")).toBe("reset");
    expect(failure("other")).toBe("reset");
  });

  test("listen errors: the port in use, permission, or the runtime's own message", () => {
    const spec = { name: "web", address: "0.0.0.0", port: 80 } as ListenerSpec;
    const at = 'listener "web" cannot listen on 0.0.0.0:80: ';
    const sample = (what: string) => samples.find(([w]) => w === what)![1];
    expect(listenError(spec, sample("Deno.serve in use")).message).toBe(`${at}the port is in use`);
    expect(listenError(spec, sample("node listen denied")).message).toBe(
      `${at}permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`,
    );
    const odd = new Error("something else");
    const e = listenError(spec, odd);
    expect(e.message).toBe(`${at}something else`);
    expect(e.cause).toBe(odd);
  });
});
