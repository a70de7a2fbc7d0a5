// ACME credentials in routes.yaml: fields resolved (directory names, paths, durations), errors
// naming file and field, wildcards and client-certificate uses refused with the reason.
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { provision } from "../../src/provision/provision.ts";
import { provisionErrors, routesYamlErrors } from "../helpers/config-errors.ts";

const yaml = (credential: string, hosts = "[shop.example.com]", mode = "") => `listeners:
  - name: tls
    port: 8443
    protocol: HTTPS
    servers:
      - hosts: ${hosts}
        tls: { credential: shop${mode} }
credentials:
  shop: ${credential}
`;

describe("acme credentials", () => {
  test("fields are resolved: a named directory, the CA bundle against the file's folder, durations", () => {
    const c = parseConfig(
      yaml(`{ acme: { directory: letsencrypt-staging, email: ops@example.com, caBundle: ca/pebble.pem,
        challenges: [tls-alpn-01, http-01, tls-alpn-01], keyType: rsa, renewBefore: 720h,
        eab: { kid: kid-1, hmacKey: c2VjcmV0 } } }`),
      "/etc/portico/routes.yaml",
    ).credentials.get("shop")!;
    expect(c.acme).toEqual({
      directory: "https://acme-staging-v02.api.letsencrypt.org/directory",
      email: "ops@example.com",
      caBundle: "/etc/portico/ca/pebble.pem",
      challenges: ["tls-alpn-01", "http-01"],
      keyType: "rsa",
      renewBeforeMs: 720 * 3_600_000,
      eab: { kid: "kid-1", hmacKey: "c2VjcmV0" },
    });
    const d = parseConfig(yaml("{ acme: { directory: letsencrypt } }"), "/r.yaml").credentials.get("shop")!;
    expect(d.acme).toEqual({ directory: "https://acme-v02.api.letsencrypt.org/directory", keyType: "ec" });
  });

  test("wrong fields are named with file, line and path", () => {
    const errors = routesYamlErrors(
      yaml(
        `{ acme: { directory: "http://ca.example/dir", email: nobody, challenges: [dns-01], keyType: dsa } }`,
      ),
    );
    const text = errors.join("\n");
    expect(text).toContain(
      "routes.yaml:9: credentials.shop.acme.directory: expected letsencrypt, letsencrypt-staging or an https:// URL",
    );
    expect(text).toContain("credentials.shop.acme.email: expected an email address");
    expect(text).toContain("credentials.shop.acme.challenges[0]");
    expect(text).toContain("credentials.shop.acme.keyType");
    expect(routesYamlErrors(yaml("{ acme: { email: a@b.c } }")).join("\n")).toContain(
      "credentials.shop.acme.directory",
    );
  });

  test("a wildcard host is refused with the reason; so is MUTUAL (no client CA)", async () => {
    const wild = await provisionErrors(yaml("{ acme: { directory: letsencrypt } }", '["*.example.com"]'));
    expect(wild.join("\n")).toContain(
      'listeners[0].servers[0].hosts: host "*.example.com" uses ACME credential "shop", but a CA ' +
        "validates a wildcard only with a DNS-01 challenge",
    );
    const mutual = routesYamlErrors(
      yaml("{ acme: { directory: letsencrypt } }", undefined, ", mode: MUTUAL"),
    );
    expect(mutual.join("\n")).toContain("mode MUTUAL needs a CA to verify client certificates");
  });

  test("without the lifecycle (validate), the names are pending: the listener has no server yet", async () => {
    const { plan } = await provision(parseConfig(yaml("{ acme: { directory: letsencrypt } }"), "/r.yaml"));
    const l = plan.listeners[0]!;
    expect(l.kind === "https" && l.servers.length).toBe(0);
    expect(plan.credentials).toEqual([]);
  });

  test("an unreadable CA bundle is named with its field", async () => {
    const errors = await provisionErrors(
      yaml("{ acme: { directory: letsencrypt, caBundle: /nonexistent/ca.pem } }"),
    );
    expect(errors.join("\n")).toContain(
      "credentials.shop.acme.caBundle: cannot read ACME CA bundle /nonexistent/ca.pem",
    );
  });
});
