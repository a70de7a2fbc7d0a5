// The one flag parser behind `portico` and `portico certs`, and parseArgs on top of it.
import { describe, expect, test } from "bun:test";
import { parseArgs } from "../../src/cli/args.ts";
import { flagsAndPositionals, parseFlags, type FlagSpec } from "../../src/cli/flags.ts";
import { UsageError } from "../../src/util/errors.ts";

const SPECS: Record<string, FlagSpec> = {
  "--out": { value: true },
  "--json": {},
  "--config": { value: true, aliases: ["-c"], repeatable: true, missing: "needs a file name" },
};

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("parseFlags", () => {
  test("values after a space or an =, in command-line order", () => {
    expect(
      parseFlags(["a", "--out", "d", "--json", "--out=e", "b"], {
        ...SPECS,
        "--out": { value: true, repeatable: true },
      }),
    ).toEqual([
      { positional: "a" },
      { flag: "--out", spelled: "--out", value: "d" },
      { flag: "--json", spelled: "--json", value: "" },
      { flag: "--out", spelled: "--out", value: "e" },
      { positional: "b" },
    ]);
  });

  test("an alias is reported under its flag's name, and errors name it as typed", () => {
    expect(parseFlags(["-c", "x.yaml"], SPECS)).toEqual([
      { flag: "--config", spelled: "-c", value: "x.yaml" },
    ]);
    expect(usageError(() => parseFlags(["-c"], SPECS))).toBe("-c needs a file name");
    expect(usageError(() => parseFlags(["--config", "--json"], SPECS))).toBe("--config needs a file name");
  });

  test("--x given twice", () => {
    expect(usageError(() => parseFlags(["--out", "a", "--out=b"], SPECS))).toBe("--out given twice");
    expect(parseFlags(["-c", "a", "--config", "b"], SPECS)).toHaveLength(2);
  });

  test("needs a value, takes no value, unknown option", () => {
    expect(usageError(() => parseFlags(["--out"], SPECS))).toBe("--out needs a value");
    expect(usageError(() => parseFlags(["--out", "--json"], SPECS))).toBe("--out needs a value");
    expect(usageError(() => parseFlags(["--out", "-x"], SPECS))).toBe("--out needs a value");
    expect(usageError(() => parseFlags(["--json=yes"], SPECS))).toBe("--json takes no value");
    expect(usageError(() => parseFlags(["--bogus"], SPECS))).toBe("unknown option --bogus");
    expect(usageError(() => parseFlags(["--bogus=1"], SPECS))).toBe("unknown option --bogus");
    expect(usageError(() => parseFlags(["-x"], SPECS))).toBe("unknown option -x");
  });

  test("a value may start with a dash when it is not option-like, or after =", () => {
    expect(flagsAndPositionals(parseFlags(["--out", "-5"], SPECS)).flags.get("--out")).toBe("-5");
    expect(flagsAndPositionals(parseFlags(["--out=--x"], SPECS)).flags.get("--out")).toBe("--x");
    expect(flagsAndPositionals(parseFlags(["--out="], SPECS)).flags.get("--out")).toBe("");
  });

  test("-- ends the options; a lone - is positional", () => {
    expect(flagsAndPositionals(parseFlags(["-", "--", "--json", "-c"], SPECS))).toEqual({
      flags: new Map(),
      positional: ["-", "--json", "-c"],
    });
  });
});

describe("parseArgs", () => {
  test("defaults", () => {
    const a = parseArgs(["run"]);
    expect(a).toMatchObject({
      command: "run",
      configFiles: ["routes.yaml"],
      adapter: "auto",
      bindAddress: "0.0.0.0",
      allowExpired: false,
      warnDays: 30,
    });
    expect(a.admin).toBeUndefined();
    expect(parseArgs([]).command).toBe("help");
  });

  test("every option", () => {
    const a = parseArgs([
      "validate",
      "-c",
      "a.yaml",
      "--config=b.yaml",
      "--service",
      "web=http://127.0.0.1:9080",
      "--service=echo=tcp://127.0.0.1:2701",
      "--port",
      "443=8443",
      "--bind=127.0.0.1",
      "--credentials",
      "certs",
      "--credentials=more",
      "--admin",
      "off",
      "--allow-expired",
      "--warn-days=7",
      "--adapter",
      "node-http2",
      "--path-normalization=MERGE_SLASHES",
    ]);
    expect(a.command).toBe("validate");
    expect(a.configFiles).toEqual(["a.yaml", "b.yaml"]);
    expect([...a.services]).toEqual([
      ["web", "http://127.0.0.1:9080"],
      ["echo", "tcp://127.0.0.1:2701"],
    ]);
    expect([...a.portMap]).toEqual([[443, 8443]]);
    expect(a).toMatchObject({
      bindAddress: "127.0.0.1",
      credentialDirs: ["certs", "more"],
      admin: "off",
      allowExpired: true,
      warnDays: 7,
      adapter: "node-http2",
      pathNormalization: "MERGE_SLASHES",
    });
    expect(parseArgs(["run"]).pathNormalization).toBeUndefined();
    expect(() => parseArgs(["run", "--path-normalization", "base"])).toThrow(
      "--path-normalization must be one of NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES",
    );
  });

  test("--watch takes true or false, as --watch=false or --watch false", () => {
    expect(parseArgs(["run"]).watch).toBeUndefined();
    expect(parseArgs(["run", "--watch=false"]).watch).toBe(false);
    expect(parseArgs(["run", "--watch", "true"]).watch).toBe(true);
    expect(() => parseArgs(["run", "--watch=no"])).toThrow('--watch expects true or false, got "no"');
    expect(() => parseArgs(["run", "--watch"])).toThrow("--watch expects true or false");
  });

  test("the last of a single-valued option wins", () => {
    expect(parseArgs(["run", "--bind", "a", "--bind", "b"]).bindAddress).toBe("b");
  });

  test("help and version, as flags or words", () => {
    expect(parseArgs(["run", "--help"]).command).toBe("help");
    expect(parseArgs(["run", "help"]).command).toBe("help");
    expect(parseArgs(["-v"]).command).toBe("version");
    expect(parseArgs(["run", "-v"]).command).toBe("version");
    expect(usageError(() => parseArgs(["-v", "run"]))).toBe('unexpected argument "run"');
  });

  test("usage errors keep their messages", () => {
    expect(usageError(() => parseArgs(["run", "-c"]))).toBe("-c needs a file name");
    expect(usageError(() => parseArgs(["run", "--bind"]))).toBe("--bind needs a value");
    expect(usageError(() => parseArgs(["run", "--adapter"]))).toStartWith("--adapter must be one of auto, ");
    expect(usageError(() => parseArgs(["run", "--adapter=nope"]))).toStartWith(
      "--adapter must be one of auto, ",
    );
    expect(usageError(() => parseArgs(["run", "--service", "web"]))).toStartWith(
      "--service expects NAME=URL such as",
    );
    expect(usageError(() => parseArgs(["run", "--port", "443"]))).toBe(
      '--port expects FROM=TO such as 443=8443, got "443"',
    );
    expect(usageError(() => parseArgs(["run", "--admin", "nowhere"]))).toBe(
      '--admin expects ADDR:PORT (127.0.0.1:15000) or off, got "nowhere"',
    );
    expect(usageError(() => parseArgs(["run", "--warn-days", "soon"]))).toBe(
      '--warn-days expects a number of days, got "soon"',
    );
    expect(usageError(() => parseArgs(["run", "--allow-expired=yes"]))).toBe(
      "--allow-expired takes no value",
    );
    expect(usageError(() => parseArgs(["run", "--bogus"]))).toBe("unknown option --bogus");
    expect(usageError(() => parseArgs(["run", "validate"]))).toBe('unexpected argument "validate"');
  });
});
