// Reads the server name (SNI) from the first bytes of a TLS connection, without terminating it.
// Used to pick a TLS policy (SIMPLE / MUTUAL / passthrough) before the handshake starts.
// Formats: RFC 8446 §4.1.2 (ClientHello), RFC 6066 §3 (server_name), RFC 8446 §5.1 (records).

export type ClientHelloResult =
  /** More bytes are needed before anything can be said. */
  | { kind: "incomplete" }
  /** Not a TLS ClientHello (plain HTTP on a TLS port, garbage, SSLv2). */
  | { kind: "invalid"; reason: string }
  /** A complete ClientHello; `serverName` is undefined when the client sent no SNI. */
  | { kind: "hello"; serverName: string | undefined; alpn: string[] };

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const NAME_TYPE_HOST = 0x00;
/** A ClientHello larger than this is refused rather than buffered (real ones are < 2 KiB). */
export const MAX_CLIENT_HELLO = 16 * 1024 + RECORD_HEADER * 4;

const INCOMPLETE: ClientHelloResult = { kind: "incomplete" };

/**
 * Parses `buf`, which holds the bytes received so far. The ClientHello may be split across
 * several TLS records (RFC 8446 §5.1 allows fragmentation), so the handshake payload is
 * reassembled from consecutive handshake records first.
 */
export function parseClientHello(buf: Uint8Array): ClientHelloResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] !== CONTENT_HANDSHAKE) return { kind: "invalid", reason: "not a TLS handshake record" };

  const hs = firstRecordHandshake(buf) ?? reassemble(buf);
  if (hs === null) return INCOMPLETE;
  if (hs.length === 0) return { kind: "invalid", reason: "malformed TLS record" };
  // The handshake bytes start with type + 24-bit length.
  if (hs[0] !== HANDSHAKE_CLIENT_HELLO)
    return { kind: "invalid", reason: "first handshake message is not a ClientHello" };
  return readClientHello(hs);
}

/** The common case: the whole ClientHello sits in the first record. Null otherwise. */
function firstRecordHandshake(buf: Uint8Array): Uint8Array | null {
  if (buf.length < RECORD_HEADER + 4) return null;
  const len = (buf[3]! << 8) | buf[4]!;
  if (len < 4 || RECORD_HEADER + len > buf.length) return null;
  const need = 4 + ((buf[6]! << 16) | (buf[7]! << 8) | buf[8]!);
  return need <= len ? buf.subarray(RECORD_HEADER, RECORD_HEADER + need) : null;
}

function reassemble(buf: Uint8Array): Uint8Array | null {
  const out: number[] = [];
  let pos = 0;
  let needed = -1;
  while (true) {
    if (pos + RECORD_HEADER > buf.length) return null;
    if (buf[pos] !== CONTENT_HANDSHAKE) return new Uint8Array(0);
    const len = (buf[pos + 3]! << 8) | buf[pos + 4]!;
    if (len === 0 || len > 16384 + 2048) return new Uint8Array(0);
    const start = pos + RECORD_HEADER;
    if (start + len > buf.length) {
      // Partial record: enough to know the handshake length? Keep waiting either way.
      return null;
    }
    for (let i = start; i < start + len; i++) out.push(buf[i]!);
    pos = start + len;
    if (needed < 0 && out.length >= 4) needed = 4 + ((out[1]! << 16) | (out[2]! << 8) | out[3]!);
    if (needed >= 0 && out.length >= needed) return Uint8Array.from(out.slice(0, needed));
    if (pos >= MAX_CLIENT_HELLO) return new Uint8Array(0);
  }
}

function readClientHello(hs: Uint8Array): ClientHelloResult {
  const r = new Reader(hs, 4);
  r.skip(2 + 32); // legacy_version, random
  r.skip(r.u8()); // legacy_session_id
  r.skip(r.u16()); // cipher_suites
  r.skip(r.u8()); // legacy_compression_methods
  if (r.failed) return { kind: "invalid", reason: "truncated ClientHello" };
  let serverName: string | undefined;
  let alpn: string[] = [];
  if (r.remaining() === 0) return { kind: "hello", serverName, alpn }; // no extensions at all
  // Read the length before adding: `r.pos + r.u16()` would add the position from before the read.
  const extLen = r.u16();
  const extEnd = r.pos + extLen;
  while (!r.failed && r.pos + 4 <= extEnd) {
    const type = r.u16();
    const len = r.u16();
    const end = r.pos + len;
    if (type === EXT_SERVER_NAME) serverName = readServerName(new Reader(hs.subarray(0, end), r.pos));
    else if (type === EXT_ALPN) alpn = readAlpn(new Reader(hs.subarray(0, end), r.pos));
    r.pos = end;
  }
  if (r.failed || r.pos > hs.length) return { kind: "invalid", reason: "truncated ClientHello extensions" };
  return { kind: "hello", serverName, alpn };
}

function readServerName(r: Reader): string | undefined {
  const listLen = r.u16();
  const listEnd = r.pos + listLen;
  while (!r.failed && r.pos + 3 <= listEnd) {
    const type = r.u8();
    const len = r.u16();
    if (type === NAME_TYPE_HOST && !r.failed && r.pos + len <= r.buf.length) {
      // Host names are ASCII (IDNs arrive as A-labels); anything else is not a name we serve.
      let name = "";
      for (let i = r.pos; i < r.pos + len; i++) {
        const c = r.buf[i]!;
        if (c < 0x21 || c > 0x7e) return undefined;
        name += String.fromCharCode(c);
      }
      return normalizeServerName(name);
    }
    r.skip(len);
  }
  return undefined;
}

function readAlpn(r: Reader): string[] {
  const out: string[] = [];
  const listLen = r.u16();
  const listEnd = r.pos + listLen;
  while (!r.failed && r.pos < listEnd) {
    const len = r.u8();
    if (r.failed || len === 0 || r.pos + len > r.buf.length) break;
    out.push(String.fromCharCode(...r.buf.subarray(r.pos, r.pos + len)));
    r.skip(len);
  }
  return out;
}

class Reader {
  failed = false;
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
  ) {}
  remaining(): number {
    return this.buf.length - this.pos;
  }
  u8(): number {
    if (this.pos + 1 > this.buf.length) return this.fail();
    return this.buf[this.pos++]!;
  }
  u16(): number {
    if (this.pos + 2 > this.buf.length) return this.fail();
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  skip(n: number): void {
    this.pos += n;
    if (this.pos > this.buf.length) this.fail();
  }
  private fail(): number {
    this.failed = true;
    this.pos = this.buf.length;
    return 0;
  }
}

/** An SNI as host tables key it: lower case, without a trailing dot. */
export function normalizeServerName(name: string): string {
  const lower = /[A-Z]/.test(name) ? name.toLowerCase() : name;
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}
