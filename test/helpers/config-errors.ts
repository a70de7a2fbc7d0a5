// Collects the messages of the configuration error a call throws, one line per problem.
// The error is recognised by its name, so `configErrors` and `configErrorsAsync` suit any caller;
// `routesYamlErrors` and `provisionErrors` are the two calls the unit tests make most.
import { expect } from "bun:test";
import type { Config } from "../../src/config/model.ts";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { provision } from "../../src/provision/provision.ts";

function linesOf(error: unknown): string[] {
  expect((error as Error)?.name).toBe("ConfigError");
  return (error as Error).message.split("\n");
}

/** The formatted issues of the ConfigError that `fn` throws; fails when it throws none. */
export function configErrors(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    return linesOf(error);
  }
  throw new Error("expected a ConfigError");
}

/** The same for an asynchronous call (loading files, provisioning). */
export async function configErrorsAsync(fn: () => Promise<unknown>): Promise<string[]> {
  try {
    await fn();
  } catch (error) {
    return linesOf(error);
  }
  throw new Error("expected a ConfigError");
}

/** The issues of parsing routes.yaml `text`, named as `file`. */
export function routesYamlErrors(text: string, file = "routes.yaml"): string[] {
  return configErrors(() => parseConfig(text, file));
}

/** The issues of provisioning `config`: a model, or routes.yaml text that parses cleanly. */
export function provisionErrors(config: Config | string): Promise<string[]> {
  const model = () => (typeof config === "string" ? parseConfig(config, "routes.yaml") : config);
  return configErrorsAsync(() => provision(model()));
}
