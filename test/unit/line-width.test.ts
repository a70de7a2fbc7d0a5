// src/ stays readable in a 110-column editor: Biome (biome.json) wraps code, but it leaves long
// strings and comments as they are, so this catches those.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const WIDTH = 110;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("line width", () => {
  test(`no line in src/ is longer than ${WIDTH} characters`, () => {
    const files = sources("src");
    expect(files.length).toBeGreaterThan(50);
    const long = files.flatMap((file) =>
      readFileSync(file, "utf8")
        .split("\n")
        .flatMap((line, i) => (line.length > WIDTH ? [`${file}:${i + 1} (${line.length})`] : [])),
    );
    expect(long).toEqual([]);
  });
});
