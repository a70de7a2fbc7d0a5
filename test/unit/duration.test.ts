import { describe, expect, test } from "bun:test";
import { parseDuration } from "../../src/config/duration.ts";

describe("parseDuration", () => {
  test.each([
    ["15s", 15_000],
    ["250ms", 250],
    ["1m", 60_000],
    ["1.5s", 1_500],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1h0m0.5s", 3_600_500],
    ["0s", 0],
    [".5s", 500],
    ["1.1s", 1_100],
    ["0.25ms", 0.25],
  ])("%p is %p ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each([
    "",
    "15",
    "1.5",
    "s",
    "ms",
    "15 s",
    " 15s",
    "15s ",
    "-1s",
    "+1s",
    "1S",
    "1d",
    "1us",
    "1e3ms",
    "15sec",
    "1s,2s",
  ])("%p is not a duration", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  test("a number is not a duration, even at runtime", () => {
    expect(parseDuration(15 as unknown as string)).toBeUndefined();
  });
});
