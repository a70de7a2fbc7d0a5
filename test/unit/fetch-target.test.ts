// Which targets Bun's fetch would send rewritten (so the client hands them to node:http).
import { expect, test } from "bun:test";
import { fetchKeepsTarget } from "../../src/upstream/fetch-client.ts";

test("fetch keeps a target WHATWG parsing leaves alone, and no other", () => {
  const o = "http://127.0.0.1:8080";
  for (const t of [
    "/",
    "/a/b?x=1&y=%27%2F",
    "/%41?q=!$&()*+,;=:@/?",
    "/a%2e%2eb",
    "",
    "/api/catalog.json?v=1.2",
    "/.well-known/x",
    "/a?b?c",
  ]) {
    expect([t, fetchKeepsTarget(o + t)]).toEqual([t, true]);
  }
  for (const t of [
    "/?s=it's",
    "/a/../b",
    "/a/%2e%2e/b",
    "/a\\b",
    "//a",
    "/a?",
    '/a?b="c"',
    "/a/./b",
    "/a/.",
    "/a/..",
    "/a/b/..?x",
    "/x?a=b c",
    "/x?a=<b>",
    "/é",
  ]) {
    expect([t, fetchKeepsTarget(o + t)]).toEqual([t, false]);
  }
});
