// What a TLS listener allows when its server sets no cipherSuites: TLS 1.2 with forward-secret
// AEAD suites only (ECDHE with AES-GCM or ChaCha20-Poly1305), which is Envoy's default server
// cipher list (envoy api: extensions/transport_sockets/tls/v3/common.proto, TlsParameters
// cipher_suites, "default for servers") and Mozilla's "intermediate" profile without DHE.
// TLS 1.3 suites are all AEAD and forward-secret; runtimes do not let them be narrowed further.
// Without it, Node's and Bun's defaults also accept CBC suites and static-RSA key exchange
// (AES128-SHA, AES128-GCM-SHA256), as `openssl s_client -cipher` shows; Deno's rustls never
// does, and ignores the list.

export const DEFAULT_TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
].join(":");
