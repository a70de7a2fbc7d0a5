// Gateway, VirtualService and Secret documents are checked by valibot schemas like routes.yaml:
// every message names the document's own field (spec.servers[1].port.number), says what was
// expected, and suggests the field that was probably meant.
import { describe, expect, test } from "bun:test";
import { loadSources } from "../../src/cli/config-files.ts";
import type { ConfigIssue as Issue } from "../../src/util/errors.ts";
import { ConfigError, formatIssue } from "../../src/util/errors.ts";
import { writeConfig } from "../helpers/portico.ts";

/** Writes `text` without its first newline to a fresh folder; returns the file's path. */
const file = (text: string) => writeConfig(text.replace(/^\n/, ""), "istio.yaml");

async function outcome(path: string): Promise<{ errors: string[]; warnings: Issue[] }> {
  const warnings: Issue[] = [];
  try {
    await loadSources([path], { warn: (issue) => warnings.push(issue) });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return { errors: (error as ConfigError).message.split("\n"), warnings };
  }
  return { errors: [], warnings };
}

describe("Istio documents: schema errors at their own fields", () => {
  test("Gateway, VirtualService and Secret: unknown fields with a suggestion, values with what was expected", async () => {
    const path = file(`
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: gw }
spec:
  servers:
  - port: { number: 81, name: http, protocol: htp }
    hosts: ["*"]
    bind: 1.2.3.4
    hots: [x]
  - port: { numbr: 82, protocol: HTTP }
    hosts: []
  - port: { number: 83, protocol: http }
    hosts: [a.test]
    tls: { httpsRedirect: yes }
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: vs }
spec:
  hsots: [a.test]
  gateways: [gw]
---
apiVersion: v1
kind: Secret
metadata: { name: s }
dta: { tls.crt: abc }
stringData: { tls.key: 5 }
`);
    expect((await outcome(path)).errors).toEqual([
      `${path}:6: spec.servers[0].port.protocol: expected HTTP, HTTPS, TCP or TLS, got "htp"; did you mean "HTTP"?`,
      `${path}:8: spec.servers[0].bind: field "bind" is not supported by Portico: use --bind for the address`,
      `${path}:9: spec.servers[0].hots: unknown field "hots"; did you mean "hosts"?`,
      `${path}:10: spec.servers[1].port.number: required field is missing; expected an integer 1..65535`,
      `${path}:10: spec.servers[1].port.numbr: unknown field "numbr"; did you mean "number"?`,
      `${path}:11: spec.servers[1].hosts: expected a non-empty list of host names, got an empty list`,
      `${path}:14: spec.servers[2].tls.httpsRedirect: expected true or false, got "yes"`,
      `${path}:19: spec.hosts: required field is missing; expected a non-empty list of host names`,
      `${path}:19: spec: expected http, tcp or tls routes`,
      `${path}:20: spec.hsots: unknown field "hsots"; did you mean "hosts"?`,
      `${path}:26: dta: unknown field "dta"; did you mean "data"?`,
      `${path}:27: stringData["tls.key"]: expected a string, got 5`,
    ]);
  });

  test("what is ignored on purpose comes back as a warning, located like an error", async () => {
    const path = file(`
apiVersion: v1
kind: Service
metadata: { name: svc }
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: vs }
spec:
  hosts: [a.test]
  http: [{ route: [{ destination: { host: a } }] }]
`);
    const { errors, warnings } = await outcome(path);
    expect(errors).toEqual([]);
    expect(warnings.map((w) => w.severity)).toEqual(["warning", "warning"]);
    expect(warnings.map(formatIssue)).toEqual([
      `${path}:1: Service "svc" ignored (only Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and Secret are read)`,
      `${path}:5: VirtualService vs is bound to no Gateway (gateways: mesh); ignored`,
    ]);
  });
});
