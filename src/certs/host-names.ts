// Which names a certificate covers, from the names it was read with: on its own (no ASN.1
// library), so the startup path that reads credentials with node:crypto never loads the
// pure-TypeScript X.509 stack (docs/runtimes.md, "Start-up and idle memory").

/**
 * Whether the certificate is valid for `host`: a SAN IP address for an IP, a SAN DNS name
 * (a `*.` wildcard covers one label) for a name, or the CN when there is no DNS name at all,
 * as OpenSSL's X509_check_host does.
 */
export function certificateCoversHost(
  cert: { subjectAltNames: readonly string[]; commonNames: readonly string[] },
  host: string,
): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  const isIp = /^[0-9.]+$/.test(h) || h.includes(":");
  if (isIp) {
    const want = opensslIp(h.replace(/^\[|\]$/g, ""));
    return cert.subjectAltNames.some((n) => n === `IP Address:${want}`);
  }
  const dns = cert.subjectAltNames.filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4).toLowerCase());
  const names = dns.length > 0 ? dns : cert.commonNames.map((n) => n.toLowerCase());
  return names.some((pattern) => {
    if (pattern === h) return true;
    if (!pattern.startsWith("*.")) return false;
    const dot = h.indexOf(".");
    return dot > 0 && h.slice(dot + 1) === pattern.slice(2);
  });
}

/** IPv6 as OpenSSL 3.0 prints it in a SAN: eight uppercase hex groups, nothing compressed. */
export function opensslIp(text: string): string {
  if (!text.includes(":")) return text;
  const [left = "", right] = text.split("::");
  const l = left ? left.split(":") : [];
  const r = right ? right.split(":") : [];
  const groups = right === undefined ? l : [...l, ...Array(8 - l.length - r.length).fill("0"), ...r];
  return groups.map((g) => parseInt(g, 16).toString(16).toUpperCase()).join(":");
}
