// Istio's pathNormalization levels, table-driven from Envoy's own tests
// (test/common/http/path_utility_test.cc) plus the decoding table of Istio's "Authorization
// Policy Normalization" page.
import { describe, expect, test } from "bun:test";
import { canonicalPath, mergeSlashes, normalizeTarget } from "../../src/util/path-normalize.ts";

describe("BASE (Envoy normalize_path)", () => {
  const envoy: [string, string][] = [
    ["/xyz", "/xyz"],
    ["/x/y/z", "/x/y/z"],
    ["/a/b/../c", "/a/c"],
    ["/a/b/./c", "/a/b/c"],
    ["a/b/../c", "/a/c"],
    ["/a/b/../../../../c", "/c"],
    ["/a/..\\c", "/c"],
    ["/%c0%af", "/%c0%af"],
    ["/%5c%25", "/%5c%25"],
    ["/a/b/%2E%2E/c", "/a/c"],
    ["/a/b/%2E./c", "/a/c"],
    ["/a/b/%2E/c", "/a/b/c"],
    ["..", "/"],
    ["/../a/b", "/a/b"],
    ["/./a/b", "/a/b"],
    ["/A/B/C", "/A/B/C"],
    ["/a/b/%2e%2e/c", "/a/c"],
    ["/a/%2F%2f/c", "/a/%2F%2f/c"],
  ];
  const istio: [string, string][] = [
    ["/%2d%5f%7e", "/-_~"],
    ["/%30%39%41%5a%61%7a", "/09AZaz"],
    ["/%2e", "/"],
    ["/a%2eb", "/a.b"],
    ["/a\\b", "/a/b"],
    ["\\da", "/da"],
    ["/%27'%21!%3a%40%2F%25", "/%27'%21!%3a%40%2F%25"],
    ['/a b"<>^`{|}', "/a%20b%22%3C%3E%5E%60%7B%7C%7D"],
    ["/a//b/", "/a//b/"],
    ["/a/%zz/%", "/a/%zz/%"],
    ["/%%30%30", "/%2500"],
    // node:http hands raw bytes over as latin1 characters; a runtime that decoded UTF-8 gets
    // its UTF-8 bytes escaped.
    ["/\u00c3\u00a9", "/%C3%A9"],
    ["/\u20ac", "/%E2%82%AC"],
  ];
  for (const [input, want] of [...envoy, ...istio]) {
    test(`${input} → ${want}`, () => expect(canonicalPath(input)).toBe(want));
  }
  for (const bad of ["/xyz/.%00../abc", "/xyz/%00.%00./abc", "/xyz/AAAAA%%0000/abc", "/a\0b"]) {
    test(`${JSON.stringify(bad)} is refused`, () => expect(canonicalPath(bad)).toBeUndefined());
  }
});

describe("merge_slashes (Envoy's PathTransformer::mergeSlashes)", () => {
  const cases: [string, string][] = [
    ["", ""],
    ["a//b/c", "a/b/c"],
    ["/a//b/c/", "/a/b/c/"],
    ["/a", "/a"],
    ["//a/b/c", "/a/b/c"],
    ["/a/b/c//", "/a/b/c/"],
    ["/a////b/c", "/a/b/c"],
  ];
  for (const [input, want] of cases) test(`${input} → ${want}`, () => expect(mergeSlashes(input)).toBe(want));
});

describe("normalizeTarget: the query is never touched", () => {
  const query = "?s=it's&q=!$&'()*+,;=:@/?%27%2F%41%25%2e%2E/../";
  const cases: [string, Parameters<typeof normalizeTarget>[1], string | undefined][] = [
    ["/a/../b//%2e/%41%2F%5c" + query, "NONE", "/a/../b//%2e/%41%2F%5c" + query],
    ["/a/../b//%2e/%41%2F%5c" + query, "BASE", "/b//A%2F%5c" + query],
    ["/a/../b//%2e/%41%2F%5c" + query, "MERGE_SLASHES", "/b/A%2F%5c" + query],
    ["/a/../b//%2e/%41%2F%5c" + query, "DECODE_AND_MERGE_SLASHES", "/b/A/" + query],
    ["/a%2f..%2fb" + query, "DECODE_AND_MERGE_SLASHES", "/b" + query],
    ["/a%2f..%2fb" + query, "BASE", "/a%2f..%2fb" + query],
    ["/plain/path" + query, "BASE", "/plain/path" + query],
    ["/x/%00" + query, "BASE", undefined],
    ["/x/%00" + query, "NONE", "/x/%00" + query],
    ["/", "MERGE_SLASHES", "/"],
    // Envoy's mergeSlashes keeps a leading and a trailing slash: "//" stays "//".
    ["//?a=//", "MERGE_SLASHES", "//?a=//"],
    ["//a//?a=//", "MERGE_SLASHES", "/a/?a=//"],
  ];
  for (const [input, level, want] of cases) {
    test(`${level}: ${input}`, () => expect(normalizeTarget(input, level)).toBe(want));
  }
});
