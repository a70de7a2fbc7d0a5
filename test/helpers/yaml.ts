// Template tag for YAML written inline in tests.

/** Drops the first newline and the common indent, so line 1 of the result is the first line. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw(strings, ...values).replace(/^\n/, "");
  const indent = Math.min(
    ...text
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => line.search(/\S/)),
  );
  return text
    .split("\n")
    .map((line) => line.slice(indent))
    .join("\n");
}
