import { describe, expect, test } from "bun:test";
import { HostTable, hostOnly, portStart } from "../../src/util/host-table.ts";

describe("HostTable precedence", () => {
  const table = new HostTable<string>();
  table.add("*", "any");
  table.add("*.example.com", "wild");
  table.add("*.b.example.com", "wild-b");
  table.add("a.b.example.com", "exact-ab");
  table.add("example.com", "exact");

  test.each([
    ["a.b.example.com", "exact-ab"], // exact beats both wildcards
    ["x.b.example.com", "wild-b"], // longest wildcard wins
    ["x.y.b.example.com", "wild-b"],
    ["b.example.com", "wild"], // "*.b.example.com" needs a label before ".b"
    ["a.example.com", "wild"],
    ["example.com", "exact"],
    ["other.org", "any"],
    ["", "any"],
  ])("%p -> %p", (host, want) => {
    expect(table.match(host)).toBe(want);
  });

  test("insertion order of wildcards does not matter", () => {
    const t = new HostTable<string>();
    t.add("*.b.example.com", "wild-b");
    t.add("*.example.com", "wild");
    expect(t.match("x.b.example.com")).toBe("wild-b");
    expect(t.match("x.example.com")).toBe("wild");
  });

  test("size counts exact, wildcard and catch-all entries", () => {
    expect(table.size).toBe(5);
    expect(new HostTable<number>().size).toBe(0);
  });
});

describe("HostTable wildcards", () => {
  const table = new HostTable<number>();
  table.add("*.example.com", 1);

  test.each([
    ["a.example.com", 1],
    ["a.b.example.com", 1],
    ["example.com", undefined],
    [".example.com", undefined],
    ["aexample.com", undefined],
    ["example.com.evil", undefined],
    ["a.example.org", undefined],
  ])("%p -> %p", (host, want) => {
    expect(table.match(host)).toBe(want);
  });

  test("without a catch-all nothing else matches", () => {
    const t = new HostTable<number>();
    t.add("exact.example", 1);
    expect(t.match("exact.example")).toBe(1);
    expect(t.match("other.example")).toBeUndefined();
  });

  test("* alone matches everything, including the empty host", () => {
    const t = new HostTable<string>();
    t.add("*", "any");
    expect(t.match("anything.at.all")).toBe("any");
    expect(t.match("")).toBe("any");
  });
});

describe("HostTable.add", () => {
  test("a duplicate pattern returns false and keeps the first value", () => {
    const t = new HostTable<string>();
    expect(t.add("a.example", "first")).toBe(true);
    expect(t.add("a.example", "second")).toBe(false);
    expect(t.add("*.example", "w1")).toBe(true);
    expect(t.add("*.example", "w2")).toBe(false);
    expect(t.add("*", "any1")).toBe(true);
    expect(t.add("*", "any2")).toBe(false);
    expect(t.match("a.example")).toBe("first");
    expect(t.match("b.example")).toBe("w1");
    expect(t.match("zzz")).toBe("any1");
    expect(t.size).toBe(3);
  });

  test("an exact name and the wildcard for the same suffix are different patterns", () => {
    const t = new HostTable<string>();
    expect(t.add("example.com", "exact")).toBe(true);
    expect(t.add("*.example.com", "wild")).toBe(true);
    expect(t.match("example.com")).toBe("exact");
    expect(t.match("www.example.com")).toBe("wild");
  });
});

describe("hostOnly", () => {
  test.each([
    ["example.com", "example.com"],
    ["example.com:8080", "example.com"],
    ["Example.COM:8443", "example.com"],
    ["WEBAPP.IstioInAction.io", "webapp.istioinaction.io"],
    ["example.com.", "example.com"],
    ["example.com.:80", "example.com"],
    ["Example.Com.:80", "example.com"],
    ["127.0.0.1:9080", "127.0.0.1"],
    ["127.0.0.1", "127.0.0.1"],
    ["[::1]:8443", "[::1]"],
    ["[::1]", "[::1]"],
    ["[2001:DB8::A]:443", "[2001:db8::a]"],
    ["[::1", ""],
    ["", ""],
    [":80", ""],
  ])("%p -> %p", (authority, want) => {
    expect(hostOnly(authority)).toBe(want);
  });

  test("hostOnly output feeds match: a port and case do not change the answer", () => {
    const t = new HostTable<string>();
    t.add("*.istioinaction.io", "book");
    t.add("[::1]", "v6");
    expect(t.match(hostOnly("Catalog.IstioInAction.io:8443"))).toBe("book");
    expect(t.match(hostOnly("[::1]:8443"))).toBe("v6");
    expect(t.match(hostOnly("istioinaction.io."))).toBeUndefined();
  });
});

describe("portStart", () => {
  test.each([
    ["example.com:8080", 11],
    ["example.com", -1],
    ["[::1]:8080", 5],
    ["[::1]", -1],
    ["[::1", -1],
    ["", -1],
  ])("%p → %p", (authority, at) => {
    expect(portStart(authority)).toBe(at);
  });
});
