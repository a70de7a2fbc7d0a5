// Upstream client for services with protocol AUTO: HTTP/2 or HTTP/1.1, whichever the TLS upstream
// picks by ALPN (Envoy's auto_config). Per origin, the first request opens a probe connection
// offering ["h2", "http/1.1"], reads the upstream's choice and closes it; that request and the
// following ones go to the h2 client or the HTTP/1.1 client, which open their own connections
// (neither can adopt a socket that is already open, so the probe costs one extra TLS handshake
// per origin, not per request). The answer is kept per origin and forgotten when an exchange
// fails, so an upstream that was redeployed speaking the other protocol is asked again.
// Cleartext (http://, which only a TLS mode DISABLE could bring here) has no ALPN: HTTP/1.1.

import { isIP } from "node:net";
import { connect } from "node:tls";
import type { UpstreamClient, UpstreamTls } from "./types.ts";
import { verification } from "./verification.ts";

/** The clients AUTO chooses between, both built with the same TLS settings. */
export interface AlpnDelegates {
  h2: UpstreamClient;
  http1: UpstreamClient;
}

type Learnt = "h2" | "http1";

/** Istio's default connectTimeout: a probe that has no handshake by then fails the request. */
const PROBE_TIMEOUT_MS = 10_000;

export function createAlpnClient(tls: UpstreamTls | undefined, via: AlpnDelegates): UpstreamClient {
  const known = new Map<string, Learnt>();
  // Concurrent first requests to an origin share one probe.
  const probing = new Map<string, Promise<Learnt>>();

  const learn = (origin: string): Promise<Learnt> => {
    let pending = probing.get(origin);
    if (!pending) {
      pending = probe(origin, tls).then(
        (answer) => {
          probing.delete(origin);
          known.set(origin, answer);
          return answer;
        },
        (err) => {
          probing.delete(origin); // not an answer: the next request probes again
          throw err;
        },
      );
      probing.set(origin, pending);
    }
    return pending;
  };

  return async (r) => {
    const origin = originOf(r.url);
    if (!origin.startsWith("https:")) return via.http1(r);
    const answer = known.get(origin) ?? (await untilAborted(learn(origin), r.signal));
    try {
      return await (answer === "h2" ? via.h2 : via.http1)(r);
    } catch (err) {
      // Our own abort says nothing about the upstream; any other failure may be a changed one.
      if (!r.signal.aborted && known.get(origin) === answer) known.delete(origin);
      throw err;
    }
  };
}

/** `scheme://host:port` of a request URL, without parsing (and so re-encoding) its path. */
function originOf(url: string): string {
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  return pathStart < 0 ? url : url.slice(0, pathStart);
}

/** The protocol the upstream picks from ["h2", "http/1.1"], over one TLS connection then closed. */
function probe(origin: string, tls: UpstreamTls | undefined): Promise<Learnt> {
  const url = new URL(origin);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  // As the other clients: SNI is the override, else the host name (never an IP address, RFC 6066).
  const servername = tls?.serverName ?? (isIP(host) === 0 ? host : undefined);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port: url.port === "" ? 443 : Number(url.port),
      ALPNProtocols: ["h2", "http/1.1"],
      ca: tls?.ca,
      cert: tls?.cert,
      key: tls?.key,
      ...(servername ? { servername } : {}),
      ...verification(tls),
    });
    // Errors after the answer (the close) are of no interest; before it they fail the request.
    socket.on("error", reject);
    socket.setTimeout(PROBE_TIMEOUT_MS, () =>
      socket.destroy(
        Object.assign(new Error(`no TLS handshake with ${origin} within ${PROBE_TIMEOUT_MS} ms`), {
          code: "ETIMEDOUT",
        }),
      ),
    );
    socket.once("secureConnect", () => {
      resolve(socket.alpnProtocol === "h2" ? "h2" : "http1");
      socket.setTimeout(0);
      // Read what the upstream sends (an h2 server's SETTINGS) so its close is seen, and close
      // politely; an upstream that keeps its side open is cut after a second.
      socket.resume();
      socket.end();
      const cut = setTimeout(() => socket.destroy(), 1000);
      socket.once("close", () => clearTimeout(cut));
    });
  });
}

function untilAborted<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  const reason = () => (signal.reason instanceof Error ? signal.reason : new Error("aborted"));
  if (signal.aborted) return Promise.reject(reason());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener("abort", onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
