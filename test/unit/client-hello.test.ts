// parseClientHello against ClientHellos written by real clients (OpenSSL s_client, curl), plus
// hand-built edge cases. The real hellos are captured by a plain TCP server that never answers.
import { beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { parseClientHello, type ClientHelloResult } from "../../src/tls/client-hello.ts";

const HOST = "webapp.istioinaction.io";
const CAPTURE_TIMEOUT_MS = 5_000;

/** True once `buf` holds one whole TLS record (framing read independently of the parser). */
function wholeRecord(buf: Buffer): boolean {
  return buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3);
}

/**
 * Listens on 127.0.0.1:0, runs the client that `argsFor(port)` describes, and returns the first
 * TLS record it sent. The client is killed as soon as the record is in (or after 5 s).
 */
async function captureHello(cmd: string, argsFor: (port: number) => string[]): Promise<Uint8Array> {
  let server: Server | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const got = new Promise<Buffer>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${cmd} sent no complete TLS record within ${CAPTURE_TIMEOUT_MS} ms`)),
        CAPTURE_TIMEOUT_MS,
      );
      server = createServer((sock) => {
        let buf = Buffer.alloc(0);
        sock.on("error", () => {});
        sock.on("data", (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (wholeRecord(buf)) {
            resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)));
            sock.destroy();
          }
        });
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const port = (server!.address() as { port: number }).port;
    child = spawn(cmd, argsFor(port), { stdio: ["pipe", "ignore", "ignore"] });
    child.on("error", () => {});
    return new Uint8Array(await got);
  } finally {
    clearTimeout(timer);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once("close", r));
      child.kill("SIGKILL");
      await exited;
    }
    if (server) await new Promise((r) => server!.close(r));
  }
}

let opensslSni: Uint8Array;
let opensslNoSni: Uint8Array;
let curlHello: Uint8Array;

beforeAll(async () => {
  [opensslSni, opensslNoSni, curlHello] = await Promise.all([
    captureHello("openssl", (port) => [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      HOST,
      "-alpn",
      "h2,http/1.1",
    ]),
    captureHello("openssl", (port) => ["s_client", "-connect", `127.0.0.1:${port}`, "-noservername"]),
    captureHello("curl", (port) => [
      "-sk",
      "--max-time",
      "2",
      `https://${HOST}:${port}/`,
      "--resolve",
      `${HOST}:${port}:127.0.0.1`,
    ]),
  ]);
}, 15_000);

// ---- helpers to take hellos apart and put them back together ----

function recordHeader(len: number): number[] {
  return [0x16, 0x03, 0x01, len >> 8, len & 0xff];
}

/** The handshake message carried by a one-record hello. */
function handshakeOf(record: Uint8Array): Uint8Array {
  const len = (record[3]! << 8) | record[4]!;
  expect(record.length).toBe(5 + len);
  const hsLen = (record[6]! << 16) | (record[7]! << 8) | record[8]!;
  expect(hsLen + 4).toBe(len);
  return record.subarray(5, 5 + len);
}

/** Wraps a handshake message in one record. */
function oneRecord(hs: Uint8Array): Uint8Array {
  return Uint8Array.from([...recordHeader(hs.length), ...hs]);
}

/** Splits a handshake message across two records at `at`. */
function twoRecords(hs: Uint8Array, at: number): Uint8Array {
  return Uint8Array.from([
    ...recordHeader(at),
    ...hs.subarray(0, at),
    ...recordHeader(hs.length - at),
    ...hs.subarray(at),
  ]);
}

/** A ClientHello handshake message with the given body (after type and length). */
function handshake(body: number[], type = 0x01): Uint8Array {
  return Uint8Array.from([
    type,
    (body.length >> 16) & 0xff,
    (body.length >> 8) & 0xff,
    body.length & 0xff,
    ...body,
  ]);
}

const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** ClientHello body: version, random, empty session id, one suite, null compression, extensions. */
function helloBody(extensions: number[] | undefined): number[] {
  const head = [0x03, 0x03, ...new Array<number>(32).fill(7), 0, ...u16(2), 0x13, 0x01, 1, 0];
  return extensions === undefined ? head : [...head, ...u16(extensions.length), ...extensions];
}

function ext(type: number, data: number[]): number[] {
  return [...u16(type), ...u16(data.length), ...data];
}

function sniExt(name: string): number[] {
  const entry = [0x00, ...u16(name.length), ...ascii(name)];
  return ext(0x0000, [...u16(entry.length), ...entry]);
}

function alpnExt(protocols: string[]): number[] {
  const list = protocols.flatMap((p) => [p.length, ...ascii(p)]);
  return ext(0x0010, [...u16(list.length), ...list]);
}

function parseHs(body: number[]): ClientHelloResult {
  return parseClientHello(oneRecord(handshake(body)));
}

/** Offset of the extensions length field in a ClientHello handshake message, found by hand. */
function extensionsOffset(hs: Uint8Array): number {
  let p = 4 + 2 + 32;
  p += 1 + hs[p]!; // session id
  p += 2 + ((hs[p]! << 8) | hs[p + 1]!); // cipher suites
  p += 1 + hs[p]!; // compression methods
  return p;
}

function indexOfBytes(hay: Uint8Array, needle: string): number {
  return Buffer.from(hay).indexOf(needle, 0, "latin1");
}

// ---- real clients ----

describe("real ClientHellos", () => {
  test("openssl s_client with -servername and -alpn: SNI and ALPN", () => {
    expect(indexOfBytes(opensslSni, HOST)).toBeGreaterThan(0);
    expect(parseClientHello(opensslSni)).toEqual({
      kind: "hello",
      serverName: HOST,
      alpn: ["h2", "http/1.1"],
    });
  });

  test("openssl s_client -noservername: no SNI", () => {
    expect(parseClientHello(opensslNoSni)).toEqual({ kind: "hello", serverName: undefined, alpn: [] });
  });

  test("curl: SNI and its default ALPN", () => {
    expect(parseClientHello(curlHello)).toEqual({
      kind: "hello",
      serverName: HOST,
      alpn: ["h2", "http/1.1"],
    });
  });

  test("bytes after the hello do not matter", () => {
    const more = Uint8Array.from([...opensslSni, 0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    expect(parseClientHello(more)).toEqual({ kind: "hello", serverName: HOST, alpn: ["h2", "http/1.1"] });
  });

  test("every strict prefix of a real hello is incomplete", () => {
    for (const hello of [opensslSni, opensslNoSni, curlHello]) {
      for (let n = 0; n < hello.length; n++) {
        const r = parseClientHello(hello.subarray(0, n));
        if (r.kind !== "incomplete")
          throw new Error(`prefix of ${n}/${hello.length} bytes gave ${JSON.stringify(r)}`);
      }
    }
  });

  test("a hello split across two TLS records parses the same, at any split point", () => {
    const hs = handshakeOf(opensslSni);
    const expected: ClientHelloResult = { kind: "hello", serverName: HOST, alpn: ["h2", "http/1.1"] };
    for (const at of [1, 2, 3, 4, 5, 40, hs.length >> 1, hs.length - 1]) {
      const framed = twoRecords(hs, at);
      expect(framed.length).toBe(opensslSni.length + 5);
      expect(parseClientHello(framed)).toEqual(expected);
    }
  });

  test("every strict prefix of a two-record hello is incomplete", () => {
    const framed = twoRecords(handshakeOf(curlHello), 100);
    for (let n = 0; n < framed.length; n++) {
      const r = parseClientHello(framed.subarray(0, n));
      if (r.kind !== "incomplete")
        throw new Error(`prefix of ${n}/${framed.length} bytes gave ${JSON.stringify(r)}`);
    }
    expect(parseClientHello(framed)).toEqual({ kind: "hello", serverName: HOST, alpn: ["h2", "http/1.1"] });
  });

  test("a hello split across three records parses the same", () => {
    const hs = handshakeOf(curlHello);
    const a = 50;
    const b = 200;
    const framed = Uint8Array.from([
      ...recordHeader(a),
      ...hs.subarray(0, a),
      ...recordHeader(b - a),
      ...hs.subarray(a, b),
      ...recordHeader(hs.length - b),
      ...hs.subarray(b),
    ]);
    expect(parseClientHello(framed)).toEqual({ kind: "hello", serverName: HOST, alpn: ["h2", "http/1.1"] });
  });

  test("upper-case SNI bytes are lower-cased", () => {
    const copy = Uint8Array.from(opensslSni);
    const at = indexOfBytes(copy, HOST);
    copy.set(ascii(HOST.toUpperCase()), at);
    expect(indexOfBytes(copy, "WEBAPP.ISTIOINACTION.IO")).toBe(at);
    expect(parseClientHello(copy)).toEqual({ kind: "hello", serverName: HOST, alpn: ["h2", "http/1.1"] });
  });

  test("a handshake type other than ClientHello (1) is invalid", () => {
    const copy = Uint8Array.from(opensslSni);
    copy[5] = 0x02; // ServerHello
    expect(parseClientHello(copy)).toEqual({
      kind: "invalid",
      reason: "first handshake message is not a ClientHello",
    });
  });

  test("a record of another content type is invalid", () => {
    const copy = Uint8Array.from(opensslSni);
    copy[0] = 0x17; // application_data
    expect(parseClientHello(copy)).toEqual({ kind: "invalid", reason: "not a TLS handshake record" });
  });

  test("extensions length larger than what follows is invalid", () => {
    const hs = Uint8Array.from(handshakeOf(curlHello));
    const p = extensionsOffset(hs);
    const declared = (hs[p]! << 8) | hs[p + 1]!;
    expect(p + 2 + declared).toBe(hs.length);
    hs.set(u16(declared + 10), p);
    expect(parseClientHello(oneRecord(hs))).toEqual({
      kind: "invalid",
      reason: "truncated ClientHello extensions",
    });
  });

  test("a hello cut inside its extensions (lengths re-framed) is invalid", () => {
    const hs = handshakeOf(opensslSni);
    for (const cut of [1, 2, 3, 7, 30]) {
      const short = Uint8Array.from(hs.subarray(0, hs.length - cut));
      const bodyLen = short.length - 4;
      short.set([(bodyLen >> 16) & 0xff, (bodyLen >> 8) & 0xff, bodyLen & 0xff], 1);
      expect(parseClientHello(oneRecord(short))).toEqual({
        kind: "invalid",
        reason: "truncated ClientHello extensions",
      });
    }
  });

  test("a hello that ends right after compression methods has no SNI and no ALPN", () => {
    const hs = handshakeOf(opensslSni);
    const short = Uint8Array.from(hs.subarray(0, extensionsOffset(hs)));
    const bodyLen = short.length - 4;
    short.set([(bodyLen >> 16) & 0xff, (bodyLen >> 8) & 0xff, bodyLen & 0xff], 1);
    expect(parseClientHello(oneRecord(short))).toEqual({ kind: "hello", serverName: undefined, alpn: [] });
  });

  test("2000 random mutations of a real hello never throw", () => {
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const sources = [opensslSni, opensslNoSni, curlHello];
    const kinds = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const src = sources[i % sources.length]!;
      let bytes = Array.from(src);
      const op = rand(4);
      if (op === 0) {
        for (let k = 1 + rand(8); k > 0; k--) bytes[rand(bytes.length)] = rand(256);
      } else if (op === 1) {
        bytes = bytes.slice(0, rand(bytes.length));
      } else if (op === 2) {
        const at = 5 + rand(bytes.length - 5);
        bytes.splice(at, 1 + rand(20));
      } else {
        // Garbage in the extensions area, record framing left intact.
        const hs = handshakeOf(src);
        const from = 5 + extensionsOffset(hs) + 2;
        for (let k = from; k < bytes.length; k++) if (rand(4) === 0) bytes[k] = rand(256);
      }
      let r: ClientHelloResult;
      try {
        r = parseClientHello(Uint8Array.from(bytes));
      } catch (err) {
        throw new Error(`mutation ${i} (op ${op}) threw ${err}: ${Buffer.from(bytes).toString("hex")}`);
      }
      expect(["incomplete", "invalid", "hello"]).toContain(r.kind);
      if (r.kind === "hello") {
        expect(r.serverName === undefined || typeof r.serverName === "string").toBe(true);
        expect(Array.isArray(r.alpn)).toBe(true);
      }
      kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
    }
    // The mutations reach every outcome, so the loop exercises more than one code path.
    expect(kinds.size).toBe(3);
  });
});

// ---- hand-built inputs ----

describe("hand-built inputs", () => {
  test("empty input is incomplete", () => {
    expect(parseClientHello(new Uint8Array(0))).toEqual({ kind: "incomplete" });
  });

  test("plain HTTP is invalid", () => {
    expect(parseClientHello(new TextEncoder().encode("GET / HTTP/1.1\r\n"))).toEqual({
      kind: "invalid",
      reason: "not a TLS handshake record",
    });
  });

  test("an SSLv2-style hello is invalid", () => {
    expect(parseClientHello(Uint8Array.from([0x80, 0x2e, 0x01, 0x00, 0x02]))).toMatchObject({
      kind: "invalid",
    });
  });

  test("a zero-length handshake record is invalid", () => {
    expect(parseClientHello(Uint8Array.from([0x16, 0x03, 0x01, 0x00, 0x00, 0x16]))).toEqual({
      kind: "invalid",
      reason: "malformed TLS record",
    });
  });

  test("a handshake continued in a record of another type is invalid", () => {
    const hs = handshake(helloBody([...sniExt("a.example")]));
    const framed = twoRecords(hs, 10);
    framed[5 + 10] = 0x17;
    expect(parseClientHello(framed)).toEqual({ kind: "invalid", reason: "malformed TLS record" });
  });

  test("SNI with a trailing dot and mixed case", () => {
    expect(parseHs(helloBody(sniExt("Api.Example.COM.")))).toEqual({
      kind: "hello",
      serverName: "api.example.com",
      alpn: [],
    });
  });

  test("SNI with a non-ASCII byte is no name", () => {
    const e = sniExt("caf\xe9.example");
    expect(parseHs(helloBody(e))).toEqual({ kind: "hello", serverName: undefined, alpn: [] });
  });

  test("an SNI entry of another name type is skipped, a later host_name entry is used", () => {
    const other = [0x01, ...u16(3), 1, 2, 3];
    const host = [0x00, ...u16(9), ...ascii("b.example")];
    const data = [...u16(other.length + host.length), ...other, ...host];
    expect(parseHs(helloBody(ext(0x0000, data)))).toEqual({
      kind: "hello",
      serverName: "b.example",
      alpn: [],
    });
  });

  test("a host_name longer than its extension is no name, and not a crash", () => {
    const data = [...u16(12), 0x00, ...u16(200), ...ascii("a.example")];
    expect(parseHs(helloBody(ext(0x0000, data)))).toEqual({ kind: "hello", serverName: undefined, alpn: [] });
  });

  test("unknown extensions around SNI and ALPN are skipped", () => {
    const exts = [
      ...ext(0x002b, [2, 3, 4]),
      ...sniExt("x.example"),
      ...ext(0xff01, [0]),
      ...alpnExt(["h2", "http/1.1"]),
      ...ext(0x0015, [0, 0, 0]),
    ];
    expect(parseHs(helloBody(exts))).toEqual({
      kind: "hello",
      serverName: "x.example",
      alpn: ["h2", "http/1.1"],
    });
  });

  test("an empty extensions block", () => {
    expect(parseHs(helloBody([]))).toEqual({ kind: "hello", serverName: undefined, alpn: [] });
  });

  test("a ClientHello cut inside the cipher suites is invalid", () => {
    const body = helloBody(undefined).slice(0, 2 + 32 + 1 + 1);
    expect(parseHs(body)).toEqual({ kind: "invalid", reason: "truncated ClientHello" });
  });

  test("a hand-built hello split across records matches the one-record parse", () => {
    const hs = handshake(helloBody([...sniExt("split.example"), ...alpnExt(["http/1.1"])]));
    const want: ClientHelloResult = { kind: "hello", serverName: "split.example", alpn: ["http/1.1"] };
    expect(parseClientHello(oneRecord(hs))).toEqual(want);
    for (let at = 1; at < hs.length; at++) expect(parseClientHello(twoRecords(hs, at))).toEqual(want);
  });

  test("a handshake that claims more bytes than records ever deliver stops at the size limit", () => {
    // Handshake length 0xffffff; records of 16 KiB keep arriving.
    const first = [0x01, 0xff, 0xff, 0xff, ...new Array<number>(16380).fill(0)];
    const chunk = new Array<number>(16384).fill(0);
    const bytes = Uint8Array.from([
      ...recordHeader(first.length),
      ...first,
      ...recordHeader(chunk.length),
      ...chunk,
    ]);
    expect(parseClientHello(bytes)).toEqual({ kind: "invalid", reason: "malformed TLS record" });
  });

  // Regression: `r.pos + r.u16()` once evaluated r.pos before u16() advanced it, so every list
  // end was computed 2 bytes short and a last entry shorter than 2 bytes was never read.
  test("a one-character SNI host name is read", () => {
    expect(parseHs(helloBody(sniExt("a")))).toEqual({ kind: "hello", serverName: "a", alpn: [] });
  });

  test("a one-character ALPN protocol at the end of the list is read", () => {
    expect(parseHs(helloBody(alpnExt(["h2", "x"])))).toEqual({
      kind: "hello",
      serverName: undefined,
      alpn: ["h2", "x"],
    });
  });

  // Regression: an ALPN list that claims more bytes than its extension holds once yielded a
  // spurious empty protocol name.
  test("an ALPN list longer than its extension adds no empty protocol name", () => {
    const list = [2, ...ascii("h2")];
    const data = [...u16(list.length + 10), ...list];
    const r = parseHs(helloBody(ext(0x0010, data)));
    expect(r.kind === "invalid" || (r.kind === "hello" && !r.alpn.includes(""))).toBe(true);
  });

  test("two-character SNI and ALPN entries", () => {
    expect(parseHs(helloBody([...sniExt("ab"), ...alpnExt(["h2", "h3"])]))).toEqual({
      kind: "hello",
      serverName: "ab",
      alpn: ["h2", "h3"],
    });
  });
});
