// refusal(): what app.ts refuses before routing on every adapter (src/http/request-refusal.ts).
import { describe, expect, test } from "bun:test";
import { refusal } from "../../src/http/request-refusal.ts";

const req = (method: string, headers: Record<string, string> = {}) =>
  new Request("http://h1.example/c", { method, headers });

describe("refusal", () => {
  test("an ordinary request, with or without a Host header (h2 has :authority only)", () => {
    expect(refusal(req("GET", { host: "h1.example:8080" }), "h1.example:8080")).toBeUndefined();
    expect(refusal(req("POST"), "h1.example")).toBeUndefined();
  });
  test("CONNECT: 405, whatever its authority", () => {
    expect(refusal(new Request("http://h1.example:443/", { method: "CONNECT" }), "h1.example:443")).toBe(405);
  });
  test("an invalid Host: 400, even when the authority used for routing is valid (absolute-form)", () => {
    expect(refusal(req("GET", { host: "a b@c" }), "h1.example")).toBe(400);
    expect(refusal(req("GET", { host: "" }), "h1.example")).toBe(400);
  });
  test("two Host lines, which arrive joined: 400", () => {
    const headers = new Headers();
    headers.append("host", "h1.example");
    headers.append("host", "h1.example");
    expect(refusal(new Request("http://h1.example/", { headers }), "h1.example")).toBe(400);
  });
  test("an invalid authority (an absolute-form target with userinfo): 400", () => {
    expect(refusal(req("GET", { host: "h1.example" }), "u@abs.example")).toBe(400);
  });
});
