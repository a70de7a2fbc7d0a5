// The keys of a Kubernetes Secret that hold a credential, as Istio reads them: a TLS Secret's
// (tls.crt, tls.key, ca.crt) first, then the generic Secret's (cert, key, cacert). Read by the
// config's Secret documents (config/istio/secret.ts) and by `certs inspect` (read-source.ts).

export const CERT_KEYS: readonly string[] = ["tls.crt", "cert"];
export const KEY_KEYS: readonly string[] = ["tls.key", "key"];
export const CA_KEYS: readonly string[] = ["ca.crt", "cacert"];
