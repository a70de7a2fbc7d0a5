// build.ts injects these with Bun.build `define` (package.json's version; "compiled" for the
// `bun build --compile` executables); running from source they are undeclared and the defaults apply.
declare const PORTICO_VERSION: string | undefined;
declare const PORTICO_BUILD: string | undefined;

export const VERSION: string = typeof PORTICO_VERSION === "string" ? PORTICO_VERSION : "0.1.0";
const BUILD: string = typeof PORTICO_BUILD === "string" ? PORTICO_BUILD : "";

export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  const build = BUILD ? `, ${BUILD}` : "";
  if (g.Bun) return `bun ${g.Bun.version}${build}`;
  if (g.Deno) return `deno ${g.Deno.version.deno}${build}`;
  return `node ${process.versions.node}${build}`;
}
