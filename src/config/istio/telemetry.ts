// Istio's Telemetry API for access logging (telemetry.istio.io/v1 Telemetry,
// https://istio.io/latest/docs/reference/config/telemetry/#AccessLogging): `accessLogging`
// entries whose providers are Envoy's built-in `envoy` (or left out: the default provider)
// turn the log on (to stdout, where the envoy provider writes) or, with `disabled: true`, off.
// Istio's Telemetry API takes precedence over MeshConfig's accessLogFile, and so does this
// (compose.ts). Anything else (metrics, tracing, match, filter, other providers, selectors) is
// a notice: Portico is the one gateway, with one log.

import type { AccessLogSettings } from "../model.ts";
import { isMapping } from "../schema-kit.ts";
import type { IstioDoc } from "./document.ts";

const ENVOY = "envoy";

export function telemetryAccessLog(doc: IstioDoc): AccessLogSettings | undefined {
  const spec = doc.raw.spec;
  if (!isMapping(spec)) return void doc.ctx.report(["spec"], "a Telemetry needs a spec mapping");
  for (const key of Object.keys(spec))
    if (key !== "accessLogging")
      doc.ctx.report(["spec", key], "ignored (only accessLogging is read)", "warning");
  const entries = spec.accessLogging;
  if (entries === undefined) return undefined;
  if (!Array.isArray(entries))
    return void doc.ctx.report(["spec", "accessLogging"], "expected a list of AccessLogging entries");
  let out: AccessLogSettings | undefined;
  entries.forEach((entry: unknown, i) => {
    const at = ["spec", "accessLogging", i];
    if (!isMapping(entry)) return doc.ctx.report(at, "expected an AccessLogging mapping");
    for (const key of Object.keys(entry))
      if (key !== "providers" && key !== "disabled")
        doc.ctx.report([...at, key], "ignored (every request is logged)", "warning");
    const providers = entry.providers;
    let envoy = providers === undefined;
    if (providers !== undefined) {
      if (!Array.isArray(providers)) return doc.ctx.report([...at, "providers"], "expected a list");
      providers.forEach((p: unknown, j) => {
        const name = isMapping(p) ? p.name : undefined;
        if (name === ENVOY) envoy = true;
        else
          doc.ctx.report(
            [...at, "providers", j],
            `provider ${JSON.stringify(name)} ignored (only the built-in "envoy" provider is read)`,
            "warning",
          );
      });
    }
    if (!envoy) return;
    const disabled = entry.disabled;
    if (disabled !== undefined && typeof disabled !== "boolean")
      return doc.ctx.report([...at, "disabled"], "expected true or false");
    // The last entry for the envoy provider wins, as a later setting would.
    out = { path: disabled ? "off" : "stdout" };
  });
  return out;
}

/**
 * MeshConfig's settings with a Telemetry document's switch applied. The built-in envoy provider
 * writes to MeshConfig's accessLogFile, or to /dev/stdout when that is empty, in its encoding.
 */
export function withTelemetry(
  mesh: AccessLogSettings | undefined,
  telemetry: AccessLogSettings | undefined,
): AccessLogSettings | undefined {
  if (telemetry === undefined) return mesh;
  if (telemetry.path === "off") return { ...mesh, path: "off" };
  const file = mesh?.path;
  return { ...mesh, path: file !== undefined && file !== "off" ? file : "stdout" };
}
