// GET /config: the effective configuration (src/config/model.ts Config) after Istio translation,
// defaults and the command line's overrides, as JSON: maps as objects, each node's source as
// "file:line", and every secret redacted (redact.ts). Envoy's /config_dump is the model, down to
// redacting private keys (Envoy prints "[redacted]" for them).
import type { Config } from "../config/model.ts";
import type { AdminApp } from "./app.ts";
import { REDACTED, redact } from "./redact.ts";

export function mountConfig(app: AdminApp, config: () => Config): void {
  app.get("/config", (c) => {
    try {
      return c.json(redact(plain(config())) as object);
    } catch {
      // An error's text could quote a value; only say that it failed.
      return c.json({ error: `the configuration could not be described (${REDACTED})` }, 500);
    }
  });
}

/** Config as JSON-friendly data. */
export function plain(value: unknown, field?: string): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v)]));
  if (value instanceof Set) return [...value].map((v) => plain(v));
  if (value instanceof Date) return value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "function" || typeof value === "symbol") return undefined;
  if (Array.isArray(value)) return value.map((v) => plain(v));
  if (value !== null && typeof value === "object") {
    if (field === "source" && "file" in value && "line" in value) {
      const s = value as { file: string; line: number; path: string };
      return `${s.file}:${s.line}${s.path ? ` (${s.path})` : ""}`;
    }
    if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const p = plain(v, k);
      if (p !== undefined) out[k] = p;
    }
    return out;
  }
  return value;
}
