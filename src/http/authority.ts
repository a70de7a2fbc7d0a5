// Whether a Host header or :authority is an authority a gateway may route on: RFC 3986 §3.2.2
// host (reg-name, IPv4address or IP-literal) with an optional §3.2.3 port, and nothing else: no
// userinfo (RFC 9110 §4.2.4 forbids it in http(s) URIs), no path, no whitespace. RFC 9112 §3.2:
// a server MUST answer 400 to a request whose Host is invalid. Envoy answers 400 too
// (HeaderUtility::authorityIsValid, "invalid authority"), where it once looked the value up as
// a name, as Portico did ("Host: a b@c" got 404: issue 12).

import { isIPv6 } from "node:net";

/** unreserved / sub-delims (RFC 3986 §2.3, §2.2), the characters of a reg-name besides "%HH". */
const REG_NAME = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=")
  REG_NAME[c.charCodeAt(0)] = 1;
const HEX = /^[0-9A-Fa-f]{2}$/;
/** IPvFuture (RFC 3986 §3.2.2): "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ). */
const IP_FUTURE = /^v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/;

export function validAuthority(value: string): boolean {
  let hostEnd: number;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf("]");
    if (close < 0) return false;
    const literal = value.slice(1, close);
    // A zone ID ("%25eth0", RFC 6874) names an interface of the client's host: never routable.
    if (!(IP_FUTURE.test(literal) || (!literal.includes("%") && isIPv6(literal)))) return false;
    hostEnd = close + 1;
    if (hostEnd !== value.length && value.charCodeAt(hostEnd) !== 0x3a /* : */) return false;
  } else {
    const colon = value.indexOf(":");
    hostEnd = colon < 0 ? value.length : colon;
    // An empty host names nothing to route to (RFC 9110 §4.2.1 forbids it in http URIs).
    if (hostEnd === 0 || !validRegName(value, hostEnd)) return false;
  }
  return hostEnd === value.length || validPort(value.slice(hostEnd + 1));
}

/** reg-name; an IPv4address is one too, and both are looked up by name alike. */
function validRegName(value: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 /* % */) {
      if (!HEX.test(value.slice(i + 1, i + 3))) return false;
      i += 2;
    } else if (c >= 128 || REG_NAME[c] !== 1) return false;
  }
  return true;
}

/** RFC 3986 allows any digits, or none; a TCP port is at most 65535. */
function validPort(port: string): boolean {
  if (port.length > 5) return false;
  for (let i = 0; i < port.length; i++) {
    const c = port.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return port.length === 0 || Number(port) <= 65535;
}
