// The pure-TypeScript X.509 stack (@peculiar/x509 and its ASN.1 schemas), loaded when first
// needed: the bundled configuration never needs it to start (its credentials are read with
// node:crypto, provision/credential-quick.ts), and importing it costs the compiled binary about
// 1 MiB of idle RSS on Bun 1.4.5 (docs/runtimes.md, "Start-up and idle memory").
//
// Code that parses certificates synchronously (a client certificate on the request path, a
// compiled client-certificate check at the handshake) calls x509(); whatever starts such code
// awaits loadX509() first: provisioning when it compiles checks, the HTTP handler before the
// first request that carries a client certificate.
import type * as X509 from "./x509.ts";

let loaded: typeof X509 | undefined;
let loading: Promise<typeof X509> | undefined;

export function loadX509(): Promise<typeof X509> {
  loading ??= import("./x509.ts").then((m) => (loaded = m));
  return loading;
}

/** Whether x509() may be called. */
export function x509Loaded(): boolean {
  return loaded !== undefined;
}

/** The X.509 stack, once loadX509() has resolved. */
export function x509(): typeof X509 {
  if (loaded === undefined) throw new Error("the X.509 stack was used before loadX509() resolved");
  return loaded;
}
