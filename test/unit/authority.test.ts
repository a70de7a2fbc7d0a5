// validAuthority: RFC 3986 §3.2.2 host (reg-name, IPv4, IP-literal) with an optional §3.2.3
// port, nothing else (src/http/authority.ts). Each refusal names the rule it breaks.
import { describe, expect, test } from "bun:test";
import { validAuthority } from "../../src/http/authority.ts";

const VALID = [
  "example.com",
  "EXAMPLE.com",
  "example.com.",
  "a",
  "h1.example:8080",
  "h1.example:",
  "h1.example:0",
  "h1.example:65535",
  "127.0.0.1",
  "127.0.0.1:80",
  "[::1]",
  "[::1]:8080",
  "[2001:db8::7]:443",
  "[::ffff:127.0.0.1]",
  "[v1.fe80::a+en1]",
  "under_score-and~tilde",
  "a,b",
  "sub-delims!$&'()*+;=",
  "pct%20encoded",
];

const INVALID: [string, string][] = [
  ["", "no host"],
  [":80", "no host before the port"],
  ["a b@c", "space"],
  ["user@example.com", "userinfo"],
  ["example.com/path", "path"],
  ["example.com?q", "query"],
  ["example.com#f", "fragment"],
  ["example.com\\x", "backslash"],
  ["example.com:80x", "port with a letter"],
  ["example.com:99999", "port above 65535"],
  ["example.com:123456", "port longer than five digits"],
  ["example.com:80:81", "two ports"],
  ["example.com, other.example", "two Host lines joined"],
  ["exa\tmple.com", "tab"],
  ["exa\0mple.com", "NUL"],
  ["exämple.com", "non-ASCII (IDNs travel as punycode)"],
  ["pct%2", "truncated percent-encoding"],
  ["pct%zz", "percent-encoding that is not hex"],
  ["[::g]", "not an IPv6 address"],
  ["[::1", "unclosed IP-literal"],
  ["::1", "IPv6 without brackets"],
  ["[::1]x", "junk after the IP-literal"],
  ["[::1]:80x", "IP-literal with a bad port"],
  ["[fe80::1%25eth0]", "zone ID"],
  ["[127.0.0.1]", "IPv4 in brackets"],
  ["[v.x]", "IPvFuture without a version"],
];

describe("validAuthority", () => {
  for (const value of VALID) {
    test(`accepts ${JSON.stringify(value)}`, () => expect(validAuthority(value)).toBe(true));
  }
  for (const [value, why] of INVALID) {
    test(`refuses ${JSON.stringify(value)}: ${why}`, () => expect(validAuthority(value)).toBe(false));
  }
});
