// Collects the messages of the configuration error a call throws, one line per problem.
// The error is recognised by its name, so this helper imports nothing from src/.
import { expect } from "bun:test";

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
