// Istio's MeshConfig, as far as the access log and client trust go: `accessLogFile` ("" off,
// "/dev/stdout", "/dev/stderr" or a file), `accessLogEncoding` (TEXT or JSON) and
// `defaultConfig.gatewayTopology.numTrustedProxies` (ProxyConfig), read from an IstioOperator
// (spec.meshConfig) or from the `istio` ConfigMap (data.mesh, MeshConfig as YAML text), the two
// places Istio users set them (https://istio.io/latest/docs/tasks/observability/logs/access-log/,
// "Enable Envoy's access logging"). Everything else in those documents is a notice: Portico is
// the gateway only, and its settings live in routes.yaml.

import { parse } from "yaml";
import type { AccessLogSettings } from "../model.ts";
import type { Reporter } from "../report.ts";
import type { FieldPath } from "../yaml-locate.ts";
import { isMapping } from "../schema-kit.ts";
import type { IstioDoc } from "./document.ts";

const READ =
  "only meshConfig.accessLogFile, accessLogEncoding and " +
  "defaultConfig.gatewayTopology.numTrustedProxies are read";

/** What Portico takes from a MeshConfig. */
export interface MeshSettings {
  accessLog?: AccessLogSettings;
  numTrustedProxies?: number;
}

/** The settings an IstioOperator or `istio` ConfigMap gives; undefined: none. */
export function meshSettings(doc: IstioDoc): MeshSettings | undefined {
  const spec = doc.raw.spec;
  if (doc.kind === "IstioOperator") {
    if (!isMapping(spec)) return void doc.ctx.report(["spec"], "an IstioOperator needs a spec mapping");
    for (const key of Object.keys(spec))
      if (key !== "meshConfig") doc.ctx.report(["spec", key], `ignored (${READ})`, "warning");
    if (spec.meshConfig === undefined) return undefined;
    if (!isMapping(spec.meshConfig))
      return void doc.ctx.report(["spec", "meshConfig"], "expected a MeshConfig mapping");
    return readMeshConfig(spec.meshConfig, doc.ctx, ["spec", "meshConfig"], "");
  }
  // A ConfigMap: only the mesh config of istiod's own, named "istio", means anything here.
  if (doc.name !== "istio") {
    doc.ctx.report([], `ConfigMap "${doc.name}" ignored (only the ConfigMap named istio is read)`, "warning");
    return undefined;
  }
  const data = doc.raw.data;
  if (!isMapping(data)) return void doc.ctx.report(["data"], "the istio ConfigMap needs data.mesh");
  for (const key of Object.keys(data))
    if (key !== "mesh") doc.ctx.report(["data", key], `ignored (${READ})`, "warning");
  if (data.mesh === undefined) return undefined;
  if (typeof data.mesh !== "string")
    return void doc.ctx.report(["data", "mesh"], "expected MeshConfig as YAML text");
  let mesh: unknown;
  try {
    mesh = parse(data.mesh);
  } catch (err) {
    return void doc.ctx.report(["data", "mesh"], `data.mesh is not YAML: ${(err as Error).message}`);
  }
  if (mesh === null || mesh === undefined) return undefined;
  if (!isMapping(mesh)) return void doc.ctx.report(["data", "mesh"], "expected a MeshConfig mapping");
  return readMeshConfig(mesh, doc.ctx, ["data", "mesh"], "mesh.");
}

/** `prefix` names the field inside data.mesh, whose lines the reporter cannot locate. */
function readMeshConfig(
  mesh: Record<string, unknown>,
  ctx: Reporter,
  at: FieldPath,
  prefix: string,
): MeshSettings | undefined {
  const out: AccessLogSettings = {};
  let numTrustedProxies: number | undefined;
  // Inside data.mesh the message names the field; elsewhere the path already does.
  const here = (key: string): FieldPath => (prefix ? at : [...at, key]);
  const what = (key: string) => (prefix ? `${prefix}${key}: ` : "");
  for (const [key, value] of Object.entries(mesh)) {
    switch (key) {
      case "accessLogFile":
        if (typeof value !== "string")
          ctx.report(here(key), `${what(key)}expected a file path, /dev/stdout or ""`);
        else out.path = fileToPath(value);
        break;
      case "accessLogEncoding":
        if (value !== "TEXT" && value !== "JSON") ctx.report(here(key), `${what(key)}expected TEXT or JSON`);
        else out.format = value === "TEXT" ? "text" : "json";
        break;
      case "accessLogFormat":
        if (value !== "" && value !== undefined && value !== null)
          ctx.report(
            here(key),
            `${what(key)}ignored: Portico writes its own fields ` +
              "(accessLogEncoding chooses JSON or Envoy's default text line)",
            "warning",
          );
        break;
      case "defaultConfig":
        numTrustedProxies = trustedProxies(value, ctx, here(key), `${prefix}${key}`);
        break;
      default:
        ctx.report(here(key), `${what(key)}ignored (${READ})`, "warning");
    }
  }
  const accessLog = out.path === undefined && out.format === undefined ? undefined : out;
  if (accessLog === undefined && numTrustedProxies === undefined) return undefined;
  return {
    ...(accessLog ? { accessLog } : {}),
    ...(numTrustedProxies === undefined ? {} : { numTrustedProxies }),
  };
}

/**
 * ProxyConfig.gatewayTopology.numTrustedProxies, which Istio turns into the gateway's
 * xff_num_trusted_hops (http/forwarded.ts); the rest of ProxyConfig is a notice. `name` is the
 * field's dotted name, for messages inside data.mesh.
 */
function trustedProxies(value: unknown, ctx: Reporter, at: FieldPath, name: string): number | undefined {
  const inMesh = name.startsWith("mesh.");
  const where = (path: string[]): FieldPath => (inMesh ? at : [...at, ...path]);
  const what = (path: string[]) => (inMesh ? `${[name, ...path].join(".")}: ` : "");
  if (!isMapping(value)) return void ctx.report(where([]), `${what([])}expected a ProxyConfig mapping`);
  let n: number | undefined;
  for (const [key, v] of Object.entries(value)) {
    if (key !== "gatewayTopology") {
      ctx.report(where([key]), `${what([key])}ignored (${READ})`, "warning");
      continue;
    }
    if (!isMapping(v)) {
      ctx.report(where([key]), `${what([key])}expected a GatewayTopology mapping`);
      continue;
    }
    for (const [k, t] of Object.entries(v)) {
      if (k !== "numTrustedProxies") {
        // forwardClientCertDetails lives per listener in routes.yaml (forwardClientCertDetails).
        ctx.report(where([key, k]), `${what([key, k])}ignored (${READ})`, "warning");
      } else if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t > 64) {
        ctx.report(where([key, k]), `${what([key, k])}expected an integer 0..64`);
      } else n = t;
    }
  }
  return n;
}

/** Istio's accessLogFile: "" turns the log off; /dev/stdout and /dev/stderr are the streams. */
function fileToPath(file: string): string {
  if (file === "") return "off";
  if (file === "/dev/stdout") return "stdout";
  if (file === "/dev/stderr") return "stderr";
  return file;
}
