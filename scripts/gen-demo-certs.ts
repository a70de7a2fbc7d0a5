// `bun scripts/gen-demo-certs.ts DIR [--rsa] [--force]`: a fresh demo credential set made with
// `portico certs gen`, laid out like the bundled certs/ (which holds the book's own certificates
// and is never touched): two CAs, as in the book, one for the webapp and one for the catalog.
//
//   DIR/webapp-ca/ca.crt, ca.key          DIR/catalog-ca/ca.crt, ca.key
//   DIR/webapp-credential/                tls.crt, tls.key, ca.crt  (webapp.istioinaction.io)
//   DIR/webapp-credential-mtls/           the same, ca.crt verifying clients (MUTUAL)
//   DIR/catalog-credential/               tls.crt, tls.key, ca.crt  (catalog.istioinaction.io)
//   DIR/clients/webapp-client/            tls.crt, tls.key          (a client of the webapp CA)
//   DIR/webapp-ca-chain.pem, DIR/catalog-ca-chain.pem                (for curl --cacert)
//   DIR/routes.yaml                       the bundled routes.yaml, its credentials in DIR
//
// `portico run -c DIR/routes.yaml` then serves the walkthrough with these certificates
// (with `npm start`'s stand-in upstreams on 127.0.0.1:9080 and :9081).
import "reflect-metadata";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { certsCommand } from "../src/cli/certs-command.ts";

const ROOT = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith("--"));
const extra: string[] = args.filter((a) => a === "--rsa" || a === "--force");
const unknown = args.filter((a) => a.startsWith("--") && !extra.includes(a));
if (!out || unknown.length > 0) {
  process.stderr.write(
    `usage: bun scripts/gen-demo-certs.ts DIR [--rsa] [--force]\n${unknown.length ? `unknown option ${unknown[0]}\n` : ""}`,
  );
  process.exit(2);
}
const dir = resolve(out);
const bookCerts = join(ROOT, "certs");
if (existsSync(dir) && existsSync(bookCerts) && realpathSync(dir) === realpathSync(bookCerts)) {
  process.stderr.write(
    `gen-demo-certs: ${dir} holds the book's certificates, which stay as they are; choose another folder\n`,
  );
  process.exit(2);
}

async function gen(argv: string[]): Promise<void> {
  const code = await certsCommand(["gen", ...argv, ...extra]);
  if (code !== 0) process.exit(code);
}

await gen(["ca", "--out", join(dir, "webapp-ca"), "--name", "Portico Demo webapp CA"]);
await gen(["ca", "--out", join(dir, "catalog-ca"), "--name", "Portico Demo catalog CA"]);
await gen([
  "server",
  "--ca",
  join(dir, "webapp-ca"),
  "--out",
  join(dir, "webapp-credential"),
  "webapp.istioinaction.io",
]);
await gen([
  "server",
  "--ca",
  join(dir, "catalog-ca"),
  "--out",
  join(dir, "catalog-credential"),
  "catalog.istioinaction.io",
]);
await gen([
  "client",
  "--ca",
  join(dir, "webapp-ca"),
  "--out",
  join(dir, "clients", "webapp-client"),
  "webapp-client",
]);
// The mTLS credential serves the same certificate and checks clients against the webapp CA.
mkdirSync(join(dir, "webapp-credential-mtls"), { recursive: true });
cpSync(join(dir, "webapp-credential"), join(dir, "webapp-credential-mtls"), { recursive: true });
copyFileSync(join(dir, "webapp-ca", "ca.crt"), join(dir, "webapp-ca-chain.pem"));
copyFileSync(join(dir, "catalog-ca", "ca.crt"), join(dir, "catalog-ca-chain.pem"));
// Paths in routes.yaml are relative to the file: in DIR, "certs/x" is just "x".
writeFileSync(
  join(dir, "routes.yaml"),
  readFileSync(join(ROOT, "routes.yaml"), "utf8").replace(/\bcerts\//g, ""),
);

process.stdout.write(`
demo credentials in ${dir}; serve them with the bundled routes (and npm start's upstreams):
  portico run -c ${join(dir, "routes.yaml")}
  curl https://webapp.istioinaction.io:8443/api/catalog --cacert ${join(dir, "webapp-ca-chain.pem")} \\
       --resolve webapp.istioinaction.io:8443:127.0.0.1
  curl https://webapp.istioinaction.io:9443/api/catalog --cacert ${join(dir, "webapp-ca-chain.pem")} \\
       --resolve webapp.istioinaction.io:9443:127.0.0.1 \\
       --cert ${join(dir, "clients", "webapp-client", "tls.crt")} --key ${join(dir, "clients", "webapp-client", "tls.key")}
`);
