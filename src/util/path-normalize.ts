// The request path as Istio's `pathNormalization` levels leave it, for matching and forwarding
// alike; the query is never touched. Istio maps the levels onto Envoy's connection manager:
// NONE → nothing; BASE (Istio's default) → `normalize_path`; MERGE_SLASHES → also
// `merge_slashes`; DECODE_AND_MERGE_SLASHES → also `path_with_escaped_slashes_action:
// UNESCAPE_AND_FORWARD`. Envoy applies them in that order: unescape %2F %5C, RFC 3986
// normalisation, merge slashes (ConnectionManagerUtility::maybeNormalizePath).
//
// `normalize_path` is Chromium's path canonicaliser as Envoy ships it
// (envoyproxy/envoy source/common/chromium_url/url_canon_path.cc, PathTransformer::rfcNormalize
// in source/common/http/path_utility.cc): dot segments removed (also spelled %2e / %2E), `\` read
// as `/`, percent-encoded unreserved characters (ALPHA DIGIT - _ ~) decoded, `%00` refused, a few
// characters that are not allowed in a path percent-encoded (the ESCAPE entries below), every
// other byte and every other escape kept exactly as sent (case of the hex digits included).
// Istio documents the same table ("Authorization Policy Normalization"). Chromium dropped the
// decoding and the %00 rule in December 2023 (crbug.com/1509295); Istio's documentation still
// promises them, so Portico follows Istio.

export type PathNormalization = "NONE" | "BASE" | "MERGE_SLASHES" | "DECODE_AND_MERGE_SLASHES";

export const PATH_NORMALIZATIONS: readonly PathNormalization[] = [
  "NONE",
  "BASE",
  "MERGE_SLASHES",
  "DECODE_AND_MERGE_SLASHES",
];

const PASS = 0;
const SPECIAL = 1;
const ESCAPE = 3;
const UNESCAPE = 4;
const INVALID = 9;

/** Chromium's kPathCharLookup (Envoy's snapshot), by byte. */
const LOOKUP = new Uint8Array(256).fill(ESCAPE);
{
  const set = (chars: string, flag: number) => {
    for (const c of chars) LOOKUP[c.charCodeAt(0)] = flag;
  };
  LOOKUP[0] = INVALID;
  set("!$&'()*+,/:;=@[]", PASS);
  set("-_~0123456789", UNESCAPE);
  set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", UNESCAPE);
  set(".", SPECIAL);
  // Everything else (controls, space, " # % < > ? \ ^ ` { | } DEL, bytes above 0x7F) is ESCAPE;
  // % and \ are handled before the table is consulted.
}

/** Only these characters can make BASE change a path: the fast path copies anything else. */
const NEEDS_WORK = /[^A-Za-z0-9\-_~!$&'()*+,/:;=@[\]]|\/\/|^[^/]/;

/**
 * The origin-form target (path and query) with its path normalised at `level`; undefined when
 * Envoy would refuse it (answered 400). The query, from the first `?`, is returned as sent.
 */
export function normalizeTarget(target: string, level: PathNormalization): string | undefined {
  if (level === "NONE") return target;
  const q = target.indexOf("?");
  let path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q);
  if (!NEEDS_WORK.test(path)) return target;
  if (level === "DECODE_AND_MERGE_SLASHES") path = path.replace(/%2f/gi, "/").replace(/%5c/gi, "\\");
  const canonical = canonicalPath(path);
  if (canonical === undefined) return undefined;
  return (level === "BASE" ? canonical : mergeSlashes(canonical)) + query;
}

/** Envoy's PathTransformer::mergeSlashes on a path without query. */
export function mergeSlashes(path: string): string {
  if (!path.includes("//")) return path;
  const prefix = path.startsWith("/") ? "/" : "";
  const suffix = path.endsWith("/") ? "/" : "";
  return (
    prefix +
    path
      .split("/")
      .filter((s) => s !== "")
      .join("/") +
    suffix
  );
}

/** Chromium's DoPath / DoPartialPath as Envoy's snapshot has them; undefined: invalid. */
export function canonicalPath(spec: string): string | undefined {
  if (spec === "") return "/";
  let out = isSlash(spec.charCodeAt(0)) ? "" : "/";
  let ok = true;
  // Index in `out` of a '%' that did not start a valid escape (see nestedEscapes).
  let lastInvalidPercent = -Infinity;
  const end = spec.length;
  for (let i = 0; i < end; i++) {
    const ch = spec.charCodeAt(i);
    if (ch > 0xff) {
      // A runtime that decoded the target as UTF-8: escape its UTF-8 bytes, as Chromium does.
      const cp = spec.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of new TextEncoder().encode(String.fromCodePoint(cp))) out += escaped(b);
      continue;
    }
    const flags = LOOKUP[ch]!;
    if (!(flags & SPECIAL)) {
      out += spec[i];
      continue;
    }
    const dotLen = dotAt(spec, i, end);
    if (dotLen > 0) {
      if (out.endsWith("/")) {
        const after = i + dotLen;
        if (after === end) {
          i = after - 1; // "." at the end: the current directory
        } else if (isSlash(spec.charCodeAt(after))) {
          i = after; // "./"
        } else {
          const second = dotAt(spec, after, end);
          const afterSecond = after + second;
          if (second > 0 && (afterSecond === end || isSlash(spec.charCodeAt(afterSecond)))) {
            out = upToPreviousSlash(out);
            i = afterSecond === end ? afterSecond - 1 : afterSecond;
          } else {
            out += ".";
            i += dotLen - 1;
          }
        }
      } else {
        out += ".";
        i += dotLen - 1;
      }
    } else if (ch === 0x5c) {
      out += "/";
    } else if (ch === 0x25) {
      const value = hexPair(spec, i, end);
      if (value >= 0) {
        const f = LOOKUP[value]!;
        if (f & UNESCAPE) {
          out += String.fromCharCode(value);
          if (lastInvalidPercent >= out.length - 3)
            out = nestedEscapes(spec, i + 3, end, lastInvalidPercent, out);
        } else {
          out += spec.slice(i, i + 3);
          if ((f & INVALID) === INVALID) ok = false;
        }
        i += 2;
      } else {
        lastInvalidPercent = out.length;
        out += "%";
      }
    } else if ((flags & INVALID) === INVALID) {
      out += escaped(ch);
      ok = false;
    } else {
      out += escaped(ch);
    }
  }
  return ok ? out : undefined;
}

/**
 * Chromium's CheckForNestedEscapes: "%%30%30" must not become "%00" once the inner escapes are
 * decoded, so the earlier '%' is written as "%25".
 */
function nestedEscapes(spec: string, next: number, end: number, percentAt: number, out: string): string {
  const length = out.length;
  const last = out[length - 1]!;
  const appendNext = percentAt === length - 2;
  let probe = out;
  if (appendNext) {
    if (next === end || spec.charCodeAt(next) >= 0x80) return out;
    probe += spec[next];
  }
  if (hexPair(probe, percentAt, probe.length) < 0) return out;
  // "%c" + last (+ next, still to be read from the input): "%25c" + last.
  return `${out.slice(0, percentAt)}%25${out.slice(percentAt + 1, length - 1)}${last}`;
}

function upToPreviousSlash(out: string): string {
  if (out.length === 1) return out;
  const i = out.lastIndexOf("/", out.length - 2);
  return out.slice(0, i + 1);
}

function dotAt(s: string, i: number, end: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x2e) return 1;
  if (c === 0x25 && i + 3 <= end && s[i + 1] === "2" && (s[i + 2] === "e" || s[i + 2] === "E")) return 3;
  return 0;
}

function isSlash(c: number): boolean {
  return c === 0x2f || c === 0x5c;
}

function hexPair(s: string, i: number, end: number): number {
  if (i + 3 > end) return -1;
  const hi = hex(s.charCodeAt(i + 1));
  const lo = hex(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function escaped(b: number): string {
  return `%${b < 16 ? "0" : ""}${b.toString(16).toUpperCase()}`;
}
