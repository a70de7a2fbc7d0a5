import { describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ComposeCache, loadSources } from "../../src/cli/config-files.ts";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { ConfigError } from "../../src/util/errors.ts";
import { yaml } from "../helpers/yaml.ts";
import { routesYamlErrors as errors } from "../helpers/config-errors.ts";

const HTTP_LISTENER = "listeners: [{ port: 8080, protocol: HTTP }]";

describe("parseConfig: valid configuration", () => {
  const FULL = yaml`
    settings:
      timeout: 10s
      serverHeader: ""
    listeners:
      - name: http
        port: 8080
        protocol: HTTP
        httpsRedirect: true
      - port: 8443
        address: 127.0.0.1
        protocol: HTTPS
        servers:
          - hosts: [Webapp.IstioInAction.io]
            tls:
              credential: webapp-credential
          - hosts: ["*.catalog.io"]
            tls: { mode: MUTUAL, credential: explicit }
    credentials:
      webapp-credential: certs/webapp-credential
      explicit: { cert: a.crt, key: /abs/a.key, ca: ca.crt }
    services:
      webapp: http://127.0.0.1:9080/
      catalog: https://catalog.internal:443
    routes:
      - hosts: [webapp.istioinaction.io]
        http:
          - name: api
            match:
              - uri: { prefix: /api }
              - uri: { regex: "/v[0-9]+/.*" }
            route:
              - destination: webapp
                weight: 90
              - destination: catalog
            timeout: 1.5s
          - directResponse: { status: 200, body: "hello\n", contentType: text/plain }
  `;

  test("a full configuration maps onto the model", () => {
    const config = parseConfig(FULL, "/etc/portico/routes.yaml");
    const file = "/etc/portico/routes.yaml";
    expect(config.files).toEqual([file]);
    expect(config.settings).toEqual({
      timeoutMs: 10_000,
      serverHeader: "",
      pathNormalization: "BASE",
      requestTarget: "exact",
    });

    expect(config.listeners).toEqual([
      {
        protocol: "HTTP",
        name: "http",
        address: "0.0.0.0",
        port: 8080,
        hosts: ["*"],
        httpsRedirect: true,
        source: { file, line: 5, path: "listeners[0]" },
      },
      {
        protocol: "HTTPS",
        name: "https-8443",
        address: "127.0.0.1",
        port: 8443,
        servers: [
          {
            hosts: ["webapp.istioinaction.io"],
            mode: "SIMPLE",
            credential: "webapp-credential",
            source: { file, line: 13, path: "listeners[1].servers[0]" },
          },
          {
            hosts: ["*.catalog.io"],
            mode: "MUTUAL",
            credential: "explicit",
            source: { file, line: 16, path: "listeners[1].servers[1]" },
          },
        ],
        source: { file, line: 9, path: "listeners[1]" },
      },
    ]);

    expect([...config.credentials.values()]).toEqual([
      {
        name: "webapp-credential",
        cert: "/etc/portico/certs/webapp-credential/tls.crt",
        key: "/etc/portico/certs/webapp-credential/tls.key",
        ca: "/etc/portico/certs/webapp-credential/ca.crt",
        caOptional: true,
        source: { file, line: 19, path: "credentials.webapp-credential" },
      },
      {
        name: "explicit",
        cert: "/etc/portico/a.crt",
        key: "/abs/a.key",
        ca: "/etc/portico/ca.crt",
        caOptional: false,
        source: { file, line: 20, path: "credentials.explicit" },
      },
    ]);

    expect([...config.services.values()]).toEqual([
      {
        name: "webapp",
        url: "http://127.0.0.1:9080",
        host: "127.0.0.1",
        port: 9080,
        source: { file, line: 22, path: "services.webapp" },
      },
      {
        name: "catalog",
        url: "https://catalog.internal",
        host: "catalog.internal",
        port: 443,
        source: { file, line: 23, path: "services.catalog" },
      },
    ]);

    expect(config.routes).toHaveLength(1);
    const [vhost] = config.routes;
    expect(vhost!.hosts).toEqual(["webapp.istioinaction.io"]);
    expect(vhost!.source).toEqual({ file, line: 25, path: "routes[0]" });
    expect(vhost!.http).toEqual([
      {
        name: "api",
        match: [{ uri: { kind: "prefix", value: "/api" } }, { uri: { kind: "regex", value: "/v[0-9]+/.*" } }],
        destinations: [
          { service: "webapp", weight: 90, source: { file, line: 32, path: "routes[0].http[0].route[0]" } },
          { service: "catalog", weight: 0, source: { file, line: 34, path: "routes[0].http[0].route[1]" } },
        ],
        timeoutMs: 1_500,
        source: { file, line: 27, path: "routes[0].http[0]" },
      },
      {
        match: [],
        destinations: [],
        directResponse: { status: 200, body: "hello\n", contentType: "text/plain" },
        timeoutMs: 10_000,
        source: { file, line: 36, path: "routes[0].http[1]" },
      },
    ]);
  });

  test("defaults fill in what is left out", () => {
    const config = parseConfig(HTTP_LISTENER, "routes.yaml");
    expect(config.listeners).toEqual([
      {
        protocol: "HTTP",
        name: "http-8080",
        address: "0.0.0.0",
        port: 8080,
        hosts: ["*"],
        httpsRedirect: false,
        source: { file: "routes.yaml", line: 1, path: "listeners[0]" },
      },
    ]);
    expect(config.settings).toEqual({
      timeoutMs: 15_000,
      serverHeader: "portico",
      pathNormalization: "BASE",
      requestTarget: "exact",
    });
    expect(config.credentials.size).toBe(0);
    expect(config.services.size).toBe(0);
    expect(config.routes).toEqual([]);
  });

  test("relative credential paths resolve against the config file's folder", () => {
    const text = yaml`
      ${HTTP_LISTENER}
      credentials:
        folder: certs/web
        files: { cert: ../tls/a.crt, key: a.key }
    `;
    const config = parseConfig(text, "conf/routes.yaml");
    const base = resolve("conf");
    expect(config.credentials.get("folder")).toMatchObject({
      cert: join(base, "certs/web/tls.crt"),
      caOptional: true,
    });
    expect(config.credentials.get("files")).toMatchObject({
      cert: resolve(base, "../tls/a.crt"),
      key: join(base, "a.key"),
    });
    expect(config.credentials.get("files")!.ca).toBeUndefined();
  });

  test("weights: equal share when none is given, 0 for the ones left out otherwise", () => {
    const text = yaml`
      ${HTTP_LISTENER}
      services: { a: http://a, b: http://b, c: http://c }
      routes:
        - hosts: ["*"]
          http:
            - route: [{ destination: a }, { destination: b }, { destination: c }]
            - route: [{ destination: a, weight: 3 }, { destination: b }]
    `;
    const [equal, weighted] = parseConfig(text, "routes.yaml").routes[0]!.http;
    expect(equal!.destinations.map((d) => [d.service, d.weight])).toEqual([
      ["a", 1],
      ["b", 1],
      ["c", 1],
    ]);
    expect(weighted!.destinations.map((d) => [d.service, d.weight])).toEqual([
      ["a", 3],
      ["b", 0],
    ]);
    expect(equal!.timeoutMs).toBe(15_000);
  });
});

describe("parseConfig: errors name file, line and field", () => {
  test("YAML syntax error", () => {
    const text = yaml`
      listeners:
        - port: 8080
          protocol: [HTTP
    `;
    expect(errors(text)).toEqual([
      "routes.yaml:4: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
  });

  test("unquoted * is a YAML alias; the message says to quote it", () => {
    expect(errors("listeners: [{ port: 80, protocol: HTTP, hosts: [*] }]")).toEqual([
      'routes.yaml:1: invalid YAML: Alias cannot be an empty string; quote "*" when it means a wildcard host',
    ]);
  });

  test("empty file", () => {
    expect(errors("")).toEqual(["routes.yaml: the file is empty; expected listeners, services, routes"]);
    expect(errors("# only a comment\n")).toEqual([
      "routes.yaml: the file is empty; expected listeners, services, routes",
    ]);
  });

  test("missing file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portico-config-"));
    try {
      const file = join(dir, "routes.yaml");
      const error = await loadSources([file]).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toBe(`${file}: cannot read: no such file or folder`);
      expect((error as ConfigError).issues as object[]).toEqual([
        { file, line: 0, path: "", message: "cannot read: no such file or folder", severity: "error" },
      ]);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  test("loadSources parses what it reads", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portico-config-"));
    try {
      const file = join(dir, "routes.yaml");
      await Bun.write(file, HTTP_LISTENER);
      expect((await loadSources([file])).files).toEqual([file]);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  test("ComposeCache: the same files and credential folders give the Config composed before", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portico-config-"));
    try {
      const file = join(dir, "routes.yaml");
      const creds = join(dir, "creds");
      const gateway = (host: string) =>
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: gw }\nspec:\n" +
        "  servers:\n    - port: { number: 443, name: https, protocol: HTTPS }\n" +
        `      hosts: [${host}]\n      tls: { mode: SIMPLE, credentialName: c }\n` +
        "---\nkind: Sidecar\nmetadata: { name: s }\n";
      await Bun.write(file, gateway("a.test"));
      await Bun.write(join(creds, "c", "tls.crt"), "x");
      const cache = new ComposeCache();
      const warnings: string[] = [];
      const load = () =>
        loadSources([file], { credentialDirs: [creds], warn: (w) => warnings.push(w.message) }, cache);
      const first = await load();
      expect(await load()).toBe(first);
      // What a full load warned about is said again.
      expect(warnings.length).toBe(2);
      expect(warnings[1]).toBe(warnings[0]!);
      expect(warnings[0]).toContain("Sidecar");
      // A credential folder that gains a CA: composed again, and the CA is in it.
      await Bun.write(join(creds, "c", "ca.crt"), "x");
      const withCa = await load();
      expect(withCa).not.toBe(first);
      expect([...withCa.credentials.values()][0]!.ca).toBe(join(creds, "c", "ca.crt"));
      expect(await load()).toBe(withCa);
      // An edited file: composed again.
      await Bun.write(file, gateway("b.test"));
      expect(await load()).not.toBe(withCa);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  test("a reload of edited routes.yaml gives what a load from scratch gives, errors included", async () => {
    // Unchanged top-level entries keep their nodes and validated sections (yaml-documents.ts,
    // routes-yaml/parse.ts); whatever is edited, the result must be the fresh load's.
    const dir = await mkdtemp(join(tmpdir(), "portico-config-"));
    try {
      const file = join(dir, "routes.yaml");
      const parts = [
        "settings:\n  timeout: 5s\n  accessLog: { path: /dev/stdout }",
        "listeners:\n  - port: 8443\n    protocol: HTTPS\n    servers:\n" +
          "      - { hosts: [a.test], tls: { credential: a } }\n      - { hosts: [b.test], tls: { credential: b } }",
        "credentials:\n  a: { cert: a.crt, key: a.key }\n  b: { cert: b.crt, key: b.key }",
        "services:\n  web: http://127.0.0.1:9000",
        "routes:\n  - hosts: [a.test]\n    http:\n      - route: [{ destination: web }]\n" +
          '  - hosts: ["*"]\n    http:\n      - directResponse: { status: 200, body: "one" }',
      ];
      const edits: string[][] = [
        parts,
        parts.with(4, parts[4]!.replace("one", "two")),
        parts.with(4, parts[4]!.replace("status: 200", "status: 99")),
        parts,
        parts.with(1, parts[1]!.replace("credential: b", "credential: c")),
        parts,
        parts.with(2, "credentials:\n  a: { cert: a.crt, key: a.key }"),
        parts.with(2, `${parts[2]}\n  d: { cert: 1 }`),
        // the section with an issue unchanged, another edited: still reported
        parts.with(2, `${parts[2]}\n  d: { cert: 1 }`).with(4, parts[4]!.replace("one", "three")),
        parts,
        parts.with(3, "services:\n  web: http://127.0.0.1:9001"),
        parts.with(4, `${parts[4]}\n        headers: { x: 1 }`),
        [...parts, "zzz: 1"],
        parts.with(0, "settings:\n  timeout: 5s\n  accessLog: { path: /dev/stderr }"),
      ];
      const outcome = async (cache?: ComposeCache) => {
        try {
          return await loadSources([file], {}, cache);
        } catch (err) {
          if (err instanceof ConfigError) return err.issues.map((i) => `${i.line}: ${i.message}`);
          throw err;
        }
      };
      const cache = new ComposeCache();
      for (const [i, edit] of edits.entries()) {
        await Bun.write(file, `${edit.join("\n")}\n`);
        expect({ i, got: await outcome(cache) }).toEqual({ i, got: await outcome() });
      }
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  test("unknown field, with a suggestion", () => {
    const text = yaml`
      listeners:
        - port: 8080
          protocol: HTTP
          hots: [a.example.com]
      sevices: {}
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:4: listeners[0].hots: unknown field "hots"; did you mean "hosts"?',
      'routes.yaml:5: sevices: unknown field "sevices"; did you mean "services"?',
    ]);
  });

  test("unknown field with nothing close lists the known fields", () => {
    expect(errors(`${HTTP_LISTENER}\nzzz: 1\n`)).toEqual([
      'routes.yaml:2: zzz: unknown field "zzz"; expected one of: settings, listeners, credentials, services, routes',
    ]);
  });

  test("wrong type", () => {
    const text = yaml`
      listeners:
        - port: "abc"
          protocol: HTTP
        - port: 70000
          protocol: HTTP
          httpsRedirect: "yes"
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:2: listeners[0].port: expected an integer 1..65535, got "abc"',
      "routes.yaml:4: listeners[1].port: expected an integer 1..65535, got 70000",
      'routes.yaml:6: listeners[1].httpsRedirect: expected true or false, got "yes"',
    ]);
  });

  test("missing required field", () => {
    const text = yaml`
      listeners:
        - protocol: HTTP
    `;
    expect(errors(text)).toEqual([
      "routes.yaml:2: listeners[0].port: required field is missing; expected an integer 1..65535",
    ]);
    expect(errors("services: {}\n")).toEqual([
      "routes.yaml:1: listeners: required field is missing; expected a non-empty list of listeners",
    ]);
  });

  test("bad protocol", () => {
    const text = yaml`
      listeners:
        - port: 8080
          protocol: http
        - port: 8081
          protocol: UDP
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:3: listeners[0].protocol: expected HTTP or HTTPS or TCP or TLS, got "http"; did you mean "HTTP"?',
      'routes.yaml:5: listeners[1].protocol: expected HTTP or HTTPS or TCP or TLS, got "UDP"',
    ]);
  });

  test("fields that belong to the other protocol", () => {
    const text = yaml`
      listeners:
        - port: 8443
          protocol: HTTPS
          hosts: [a.example.com]
        - port: 8080
          protocol: HTTP
          servers: [{ hosts: [b.example.com], tls: { credential: c } }]
    `;
    expect(errors(text)).toEqual([
      "routes.yaml:2: listeners[0].servers: required for an HTTPS listener; expected a non-empty list of servers, each with hosts and tls",
      "routes.yaml:4: listeners[0].hosts: only allowed on HTTP and TCP listeners; an HTTPS listener lists hosts under servers",
      "routes.yaml:7: listeners[1].servers: only allowed on HTTPS and TLS listeners; an HTTP listener lists its hosts under hosts",
    ]);
  });

  test("unknown credential", () => {
    const text = yaml`
      listeners:
        - port: 8443
          protocol: HTTPS
          servers:
            - hosts: [a.example.com]
              tls: { credential: webap-credential }
            - hosts: [b.example.com]
              tls: { credential: zzz }
      credentials:
        webapp-credential: certs/webapp
        catalog-credential: certs/catalog
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:6: listeners[0].servers[0].tls.credential: unknown credential "webap-credential"; did you mean "webapp-credential"?',
      'routes.yaml:8: listeners[0].servers[1].tls.credential: unknown credential "zzz"; known credentials: webapp-credential, catalog-credential',
    ]);
  });

  test("MUTUAL with an explicit credential that has no CA", () => {
    const text = yaml`
      listeners:
        - port: 8443
          protocol: HTTPS
          servers:
            - hosts: [a.example.com]
              tls:
                mode: MUTUAL
                credential: web
            - hosts: [b.example.com]
              tls: { mode: MUTUAL, credential: folder }
      credentials:
        web: { cert: a.crt, key: a.key }
        folder: certs/folder
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:7: listeners[0].servers[0].tls.mode: mode MUTUAL needs a CA to verify client certificates: add `ca` to credential "web"',
    ]);
  });

  test("unknown service", () => {
    const text = yaml`
      ${HTTP_LISTENER}
      services:
        webapp: http://127.0.0.1:9080
      routes:
        - hosts: [a.example.com]
          http:
            - route:
                - destination: webap
                - destination: catalog
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:8: routes[0].http[0].route[0].destination: unknown service "webap"; did you mean "webapp"?',
      'routes.yaml:9: routes[0].http[0].route[1].destination: unknown service "catalog"; known services: webapp',
    ]);
  });

  test("unknown service when no services are defined", () => {
    const text = yaml`
      ${HTTP_LISTENER}
      routes: [{ hosts: ["*"], http: [{ route: [{ destination: web }] }] }]
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:2: routes[0].http[0].route[0].destination: unknown service "web"; no services are defined',
    ]);
  });

  test("the same host twice on one HTTPS listener", () => {
    const text = yaml`
      listeners:
        - port: 8443
          protocol: HTTPS
          servers:
            - hosts: [a.example.com]
              tls: { credential: c }
            - hosts: [b.example.com, A.Example.COM]
              tls: { credential: c }
      credentials: { c: certs/c }
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:7: listeners[0].servers[1].hosts[1]: host "a.example.com" is already served on port 8443 by listeners[0].servers[0]',
    ]);
  });

  test("the same host in two routes entries", () => {
    const text = yaml`
      ${HTTP_LISTENER}
      routes:
        - hosts: [a.example.com]
          http: [{ directResponse: { status: 204 } }]
        - hosts:
            - b.example.com
            - A.example.com
          http: [{ directResponse: { status: 204 } }]
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:7: routes[1].hosts[1]: host "a.example.com" already has routes at routes[0]',
    ]);
  });

  test("two listeners on the same port", () => {
    const text = yaml`
      listeners:
        - name: web
          port: 8080
          protocol: HTTP
        - port: 8080
          address: 127.0.0.1
          protocol: HTTP
        - port: 9090
          address: 127.0.0.1
          protocol: HTTP
        - port: 9090
          address: 127.0.0.2
          protocol: HTTP
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:5: listeners[1].port: port 8080 on 127.0.0.1 is already used by listener "web" on 0.0.0.0 at routes.yaml:2 (listeners[0])',
      // Different addresses may share a port, but then the default names clash.
      'routes.yaml:11: listeners[3]: name "http-9090" (the default for this listener) is already used by the listener at routes.yaml:8 (listeners[2]); give one of them a name',
    ]);
  });

  test("two listeners with the same name", () => {
    const text = yaml`
      listeners:
        - port: 8080
          protocol: HTTP
        - name: http-8080
          port: 8081
          protocol: HTTP
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:4: listeners[1].name: name "http-8080" is already used by the listener at routes.yaml:2 (listeners[0])',
    ]);
  });

  test("invalid host patterns", () => {
    const text = yaml`
      listeners:
        - port: 8080
          protocol: HTTP
          hosts:
            - "*.example.com"
            - "*"
            - "a.*.example.com"
            - "*example.com"
            - "https://example.com"
            - "example.com:8080"
            - "example.com/path"
            - "exa mple.com"
            - "-example.com"
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:7: listeners[0].hosts[2]: invalid host "a.*.example.com": a wildcard is only allowed as the whole first label, as in "*.example.com"',
      'routes.yaml:8: listeners[0].hosts[3]: invalid host "*example.com": a wildcard is only allowed as the whole first label, as in "*.example.com"',
      'routes.yaml:9: listeners[0].hosts[4]: invalid host "https://example.com": write the host name alone, without a scheme',
      'routes.yaml:10: listeners[0].hosts[5]: invalid host "example.com:8080": write the host name alone, without a port',
      'routes.yaml:11: listeners[0].hosts[6]: invalid host "example.com/path": write the host name alone, without a path',
      'routes.yaml:12: listeners[0].hosts[7]: invalid host "exa mple.com": spaces are not allowed',
      'routes.yaml:13: listeners[0].hosts[8]: invalid host "-example.com": expected a host name, "*.suffix" or "*"',
    ]);
  });

  test("bad duration", () => {
    const text = yaml`
      settings:
        timeout: 15
      ${HTTP_LISTENER}
      routes:
        - hosts: ["*"]
          http:
            - directResponse: { status: 200 }
              timeout: 1.5 s
    `;
    expect(errors(text)).toEqual([
      "routes.yaml:2: settings.timeout: expected a duration like 15s or 250ms, got 15",
      'routes.yaml:8: routes[0].http[0].timeout: expected a duration like 15s or 250ms, got "1.5 s"',
    ]);
  });

  test("pathNormalization: Istio's levels only, with a hint", () => {
    const text = yaml`
      settings:
        pathNormalization: merge_slashes
      ${HTTP_LISTENER}
    `;
    expect(errors(text)).toEqual([
      "routes.yaml:2: settings.pathNormalization: expected NONE or BASE or MERGE_SLASHES or " +
        'DECODE_AND_MERGE_SLASHES, got "merge_slashes"; did you mean "MERGE_SLASHES"?',
    ]);
    const ok = parseConfig(
      yaml`
      settings: { pathNormalization: NONE }
      ${HTTP_LISTENER}
    `,
      "routes.yaml",
    );
    expect(ok.settings.pathNormalization).toBe("NONE");
  });

  test("requestTarget: exact (the default) or whatwg, with a hint", () => {
    expect(
      errors(yaml`
      settings: { requestTarget: WHATWG }
      ${HTTP_LISTENER}
    `),
    ).toEqual([
      'routes.yaml:1: settings.requestTarget: expected exact or whatwg, got "WHATWG"; did you mean "whatwg"?',
    ]);
    const ok = parseConfig(
      yaml`
      settings: { requestTarget: whatwg }
      ${HTTP_LISTENER}
    `,
      "routes.yaml",
    );
    expect(ok.settings.requestTarget).toBe("whatwg");
  });

  test("every weight zero", () => {
    const text = yaml`
      ${HTTP_LISTENER}
      services: { a: http://a, b: http://b }
      routes:
        - hosts: ["*"]
          http:
            - route:
                - { destination: a, weight: 0 }
                - { destination: b }
    `;
    expect(errors(text)).toEqual([
      "routes.yaml:6: routes[0].http[0].route: every destination has weight 0; at least one weight must be greater than 0",
    ]);
  });

  test("a route needs exactly one of route, redirect or directResponse", () => {
    const text = yaml`
      ${HTTP_LISTENER}
      services: { a: http://a }
      routes:
        - hosts: ["*"]
          http:
            - name: neither
            - route: [{ destination: a }]
              directResponse: { status: 200 }
    `;
    expect(errors(text)).toEqual([
      "routes.yaml:6: routes[0].http[0]: expected one of route, redirect or directResponse",
      "routes.yaml:7: routes[0].http[1]: expected exactly one of route, redirect or directResponse, got route and directResponse",
    ]);
  });

  test("bad match, status and service URL", () => {
    const text = yaml`
      ${HTTP_LISTENER}
      services:
        a: http://a/base
      routes:
        - hosts: ["*"]
          http:
            - match:
                - uri: { exact: /a, prefix: /a }
                - uri: { regex: "[" }
              directResponse: { status: 600 }
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:3: services.a: expected an http://, https://, h2c://, h2:// or tcp:// URL with a host and no path or query, such as http://127.0.0.1:9080, got "http://a/base"',
      "routes.yaml:8: routes[0].http[0].match[0].uri: expected exactly one of exact, prefix or regex, got exact and prefix",
      'routes.yaml:9: routes[0].http[0].match[1].uri.regex: expected an RE2 regular expression, got "[" (missing ] at the end of a character class)',
      "routes.yaml:10: routes[0].http[0].directResponse.status: expected an HTTP status code 200..599, got 600",
    ]);
  });

  test("every error is reported at once, in file order, as structured issues", () => {
    const text = yaml`
      settings: { timeout: soon }
      listeners:
        - port: 8080
          protocol: HTTPS
          servers:
            - hosts: [a.example.com]
              tls: { credential: nope }
        - port: 8080
          protocol: HTTP
      credentials: { c: certs/c }
      services:
        web: http://127.0.0.1:9080
      routes:
        - hosts: [a.example.com]
          http: [{ route: [{ destination: wbe }] }]
        - hosts: [a.example.com]
          http: [{ route: [{ destination: web }] }]
    `;
    let caught: unknown;
    try {
      parseConfig(text, "routes.yaml");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues as object[]).toEqual([
      {
        file: "routes.yaml",
        line: 1,
        path: "settings.timeout",
        message: 'expected a duration like 15s or 250ms, got "soon"',
        severity: "error",
      },
      {
        file: "routes.yaml",
        line: 7,
        path: "listeners[0].servers[0].tls.credential",
        message: 'unknown credential "nope"; known credentials: c',
        severity: "error",
      },
      {
        file: "routes.yaml",
        line: 8,
        path: "listeners[1].port",
        message:
          'port 8080 on 0.0.0.0 is already used by listener "https-8080" on 0.0.0.0 at routes.yaml:3 (listeners[0])',
        severity: "error",
      },
      {
        file: "routes.yaml",
        line: 15,
        path: "routes[0].http[0].route[0].destination",
        message: 'unknown service "wbe"; did you mean "web"?',
        severity: "error",
      },
      {
        file: "routes.yaml",
        line: 16,
        path: "routes[1].hosts[0]",
        message: 'host "a.example.com" already has routes at routes[0]',
        severity: "error",
      },
    ]);
  });

  test("cross-reference checks still run on sections whose shape is valid", () => {
    const text = yaml`
      listeners:
        - port: 8080
          protocol: HTTP
          hosts: "a.example.com"
      services:
        web: http://127.0.0.1:9080
      routes:
        - hosts: [a.example.com]
          http: [{ route: [{ destination: wbe }] }]
    `;
    expect(errors(text)).toEqual([
      'routes.yaml:4: listeners[0].hosts: expected a non-empty list of host names ("name", "*.suffix" or "*"), got "a.example.com"',
      'routes.yaml:9: routes[0].http[0].route[0].destination: unknown service "wbe"; did you mean "web"?',
    ]);
  });
});
