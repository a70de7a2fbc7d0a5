// The book's certificate files ("Istio in Action" ch. 4), as given, and routes.yaml fragments
// that reproduce its Gateway configurations on free loopback ports.
import { join } from "node:path";
import { BOOK } from "./portico.ts";

export const HOST_WEBAPP = "webapp.istioinaction.io";
export const HOST_CATALOG = "catalog.istioinaction.io";

export const book = {
  webappCert: join(BOOK, "certs/3_application/certs/webapp.istioinaction.io.cert.pem"),
  webappKey: join(BOOK, "certs/3_application/private/webapp.istioinaction.io.key.pem"),
  webappCaChain: join(BOOK, "certs/2_intermediate/certs/ca-chain.cert.pem"),
  webappClientCert: join(BOOK, "certs/4_client/certs/webapp.istioinaction.io.cert.pem"),
  webappClientKey: join(BOOK, "certs/4_client/private/webapp.istioinaction.io.key.pem"),
  catalogCert: join(BOOK, "certs2/3_application/certs/catalog.istioinaction.io.cert.pem"),
  catalogKey: join(BOOK, "certs2/3_application/private/catalog.istioinaction.io.key.pem"),
  catalogCaChain: join(BOOK, "certs2/2_intermediate/certs/ca-chain.cert.pem"),
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
