// The book's files ("Istio in Action" ch. 4), as given: its certificates (`book` names each by
// its role, for the unit tests too), its Gateway and VirtualService documents run with
// `portico run -c`, and routes.yaml fragments that reproduce its Gateway configurations on free
// loopback ports.
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BOOK, startPorticoWith, type PorticoProcess } from "./portico.ts";

export { BOOK };

export const HOST_WEBAPP = "webapp.istioinaction.io";
export const HOST_CATALOG = "catalog.istioinaction.io";

export const book = {
  webappCert: join(BOOK, "certs/3_application/certs/webapp.istioinaction.io.cert.pem"),
  webappKey: join(BOOK, "certs/3_application/private/webapp.istioinaction.io.key.pem"),
  webappCaChain: join(BOOK, "certs/2_intermediate/certs/ca-chain.cert.pem"),
  webappClientCert: join(BOOK, "certs/4_client/certs/webapp.istioinaction.io.cert.pem"),
  webappClientKey: join(BOOK, "certs/4_client/private/webapp.istioinaction.io.key.pem"),
  webappIntermediateCert: join(BOOK, "certs/2_intermediate/certs/intermediate.cert.pem"),
  webappIntermediateKey: join(BOOK, "certs/2_intermediate/private/intermediate.key.pem"),
  webappRootCert: join(BOOK, "certs/1_root/certs/ca.cert.pem"),
  webappRootKey: join(BOOK, "certs/1_root/private/ca.key.pem"),
  catalogCert: join(BOOK, "certs2/3_application/certs/catalog.istioinaction.io.cert.pem"),
  catalogKey: join(BOOK, "certs2/3_application/private/catalog.istioinaction.io.key.pem"),
  catalogCaChain: join(BOOK, "certs2/2_intermediate/certs/ca-chain.cert.pem"),
  catalogIntermediateCert: join(BOOK, "certs2/2_intermediate/certs/intermediate.cert.pem"),
  catalogRootCert: join(BOOK, "certs2/1_root/certs/ca.cert.pem"),
  /** Signed by the certs2 CA: a client certificate the webapp CA must refuse. */
  catalogClientCert: join(BOOK, "certs2/4_client/certs/catalog.istioinaction.io.cert.pem"),
  catalogClientKey: join(BOOK, "certs2/4_client/private/catalog.istioinaction.io.key.pem"),
};

/** `credentials:` with the book's three secrets, as explicit files. */
export const bookCredentials = `
credentials:
  webapp-credential: { cert: ${book.webappCert}, key: ${book.webappKey} }
  webapp-credential-mtls: { cert: ${book.webappCert}, key: ${book.webappKey}, ca: ${book.webappCaChain} }
  catalog-credential: { cert: ${book.catalogCert}, key: ${book.catalogKey} }
`;

/** One of the book's Gateway configurations: its files, and the same as routes.yaml listeners. */
export interface BookGateway {
  files: string[];
  listeners(http: number, https: number): string;
}

const httpListener = (http: number, redirect = "") => `
  - { name: http, address: 127.0.0.1, port: ${http}, protocol: HTTP, hosts: [${HOST_WEBAPP}]${redirect} }`;
const httpsListener = (https: number, servers: string) => `
  - name: https
    address: 127.0.0.1
    port: ${https}
    protocol: HTTPS
    servers:${servers}`;
const server = (host: string, mode: string, credential: string) => `
      - hosts: [${host}]
        tls: { mode: ${mode}, credential: ${credential} }`;

const webappSimple = server(HOST_WEBAPP, "SIMPLE", "webapp-credential");

/** The book's four Gateway configurations of chapter 4, each with the VirtualServices it uses. */
export const BOOK_GATEWAYS = {
  tls: {
    files: ["coolstore-gw-tls.yaml", "coolstore-vs.yaml"],
    listeners: (http, https) => httpListener(http) + httpsListener(https, webappSimple),
  },
  redirect: {
    files: ["coolstore-gw-tls-redirect.yaml", "coolstore-vs.yaml"],
    listeners: (http, https) =>
      httpListener(http, ", httpsRedirect: true") + httpsListener(https, webappSimple),
  },
  mtls: {
    files: ["coolstore-gw-mtls.yaml", "coolstore-vs.yaml"],
    listeners: (http, https) =>
      httpListener(http) + httpsListener(https, server(HOST_WEBAPP, "MUTUAL", "webapp-credential-mtls")),
  },
  multi: {
    files: ["coolstore-gw-multi-tls.yaml", "coolstore-vs.yaml", "catalog-vs.yaml"],
    listeners: (_http, https) =>
      httpsListener(https, webappSimple + server(HOST_CATALOG, "SIMPLE", "catalog-credential")),
  },
} satisfies Record<string, BookGateway>;

/** A whole routes.yaml: `gateway`'s listeners, the book's credentials, services and routes. */
export function bookRoutesYaml(
  gateway: BookGateway,
  ports: { http: number; https: number },
  upstreams: { webappPort: number; catalogPort: number },
): string {
  const listeners = gateway.listeners(ports.http, ports.https);
  const rest = bookServicesAndRoutes(upstreams.webappPort, upstreams.catalogPort);
  return `listeners:${listeners}\n${bookCredentials}\n${rest}`;
}

export function bookServicesAndRoutes(webappPort: number, catalogPort: number): string {
  return `
services:
  webapp: http://127.0.0.1:${webappPort}
  catalog: http://127.0.0.1:${catalogPort}
routes:
  - hosts: [${HOST_WEBAPP}]          # coolstore-vs.yaml
    http:
      - route: [{ destination: webapp }]
  - hosts: [${HOST_CATALOG}]         # catalog-vs.yaml
    http:
      - route: [{ destination: catalog }]
`;
}

/** A file of the book's chapter, e.g. "coolstore-gw-tls.yaml". */
export const bookFile = (name: string) => join(BOOK, name);

let credentialsDir: string | undefined;
/**
 * The book's three secrets as credential folders (`--credentials DIR`): what
 * `kubectl create secret tls|generic` makes of the book's files, named as its Gateways do.
 */
export function bookCredentialsDir(): string {
  if (credentialsDir) return credentialsDir;
  const dir = mkdtempSync(join(tmpdir(), "portico-book-credentials-"));
  const folder = (name: string, files: Record<string, string>) => {
    mkdirSync(join(dir, name));
    for (const [to, from] of Object.entries(files)) copyFileSync(from, join(dir, name, to));
  };
  folder("webapp-credential", { "tls.crt": book.webappCert, "tls.key": book.webappKey });
  const mtls = { "tls.crt": book.webappCert, "tls.key": book.webappKey, "ca.crt": book.webappCaChain };
  folder("webapp-credential-mtls", mtls);
  folder("catalog-credential", { "tls.crt": book.catalogCert, "tls.key": book.catalogKey });
  return (credentialsDir = dir);
}

/**
 * `portico run` on the book's Istio files, unchanged: listeners on 127.0.0.1, the Gateway's ports
 * mapped to free ones (`ports`, e.g. { 443: 41234 }), the book's secrets, and the services at
 * `services` (name → URL).
 */
export function startBookFiles(
  files: string[],
  ports: Record<number, number>,
  services: Record<string, string>,
  extra: string[] = [],
): Promise<PorticoProcess> {
  const args = ["run", ...files.flatMap((f) => ["-c", bookFile(f)]), "--bind", "127.0.0.1"];
  args.push("--credentials", bookCredentialsDir());
  for (const [name, url] of Object.entries(services)) args.push("--service", `${name}=${url}`);
  for (const [from, to] of Object.entries(ports)) args.push("--port", `${from}=${to}`);
  return startPorticoWith([...args, ...extra]);
}
