// The access log: one line per HTTP request and per TCP / passthrough connection, as JSON (the
// default; the keys of Istio's JSON access-log encoding, then Portico's own) or as text in
// Envoy's default format (the same fields in the same order, then Portico's). Absent values are
// null in JSON and "-" in text, as in Envoy. A TrafficObserver sink: it formats and queues;
// log-writer.ts writes.
//
// Envoy's default format (docs: configuration/observability/access_log/usage, "Default format
// string"):
//   [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//   %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//   %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//   "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
// Portico appends, like Istio's longer default does: %UPSTREAM_CLUSTER%
// %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%, then listener=, vhost=,
// retries=, peer_subject="", peer_uri_san=, downstream_direct_remote_address= and worker= (when
// set). DOWNSTREAM_REMOTE_ADDRESS is the client x-forwarded-for names when the listener trusts
// proxies (numTrustedProxies), DOWNSTREAM_DIRECT_REMOTE_ADDRESS always the connection's peer
// (Envoy's docs: configuration/observability/access_log/usage). Envoy prints both with the
// port; Portico has printed addresses without it, and keeps to that. A TCP line has "- - -" for
// method, path and protocol and 0 for the code, as Envoy's tcp_proxy log does.

import type { LogWriter } from "./log-writer.ts";
import type { ConnectionRecord, RequestRecord, TrafficObserver } from "./records.ts";

export type AccessLogFormat = "json" | "text";

export interface AccessLog extends TrafficObserver {
  /** Lines dropped because the writer was behind (for the metrics). */
  dropped(): number;
}

/** `worker`: the worker index (PORTICO_WORKER), when running as one of several. */
export function accessLog(writer: LogWriter, format: AccessLogFormat, worker?: string): AccessLog {
  const request =
    format === "json"
      ? (r: RequestRecord) => writer.write(requestJson(r, worker))
      : (r: RequestRecord) => writer.write(requestText(r, worker));
  const connection =
    format === "json"
      ? (r: ConnectionRecord) => writer.write(connectionJson(r, worker))
      : (r: ConnectionRecord) => writer.write(connectionText(r, worker));
  return {
    request,
    connection,
    handshake: () => {},
    connectionOpened: () => {},
    connectionClosed: () => {},
    dropped: () => writer.dropped(),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const flags = (f: readonly string[]) => (f.length === 0 ? "-" : f.join(","));

export function requestJson(r: RequestRecord, worker?: string): string {
  return JSON.stringify({
    start_time: iso(r.startTime),
    method: r.method,
    path: r.path,
    protocol: r.protocol,
    response_code: r.status,
    response_flags: flags(r.flags),
    bytes_received: r.bytesReceived,
    bytes_sent: r.bytesSent,
    duration: r.durationMs,
    upstream_service_time: r.upstreamServiceTimeMs ?? null,
    x_forwarded_for: r.forwardedFor ?? null,
    user_agent: r.userAgent ?? null,
    request_id: r.requestId ?? null,
    authority: r.authority,
    upstream_host: r.upstreamHost ?? null,
    upstream_cluster: r.upstreamService ?? null,
    downstream_remote_address: r.remoteAddress,
    downstream_direct_remote_address: r.directRemoteAddress,
    requested_server_name: r.sni ?? null,
    route_name: r.route ?? null,
    listener: r.listener,
    vhost: r.vhost ?? null,
    retries: r.retries,
    peer_subject: r.peerSubject ?? null,
    peer_uri_san: r.peerUriSan ?? null,
    ...(worker === undefined ? {} : { worker }),
  });
}

export function connectionJson(r: ConnectionRecord, worker?: string): string {
  return JSON.stringify({
    start_time: iso(r.startTime),
    kind: r.kind,
    response_flags: flags(r.flags),
    bytes_received: r.bytesReceived,
    bytes_sent: r.bytesSent,
    duration: r.durationMs,
    upstream_host: r.upstreamHost ?? null,
    upstream_cluster: r.upstreamService ?? null,
    downstream_remote_address: r.remoteAddress,
    downstream_direct_remote_address: r.remoteAddress,
    requested_server_name: r.sni ?? null,
    listener: r.listener,
    ...(worker === undefined ? {} : { worker }),
  });
}

/** A value for the text line: "-" when absent or empty, as Envoy prints it. */
const v = (x: string | number | undefined) => (x === undefined || x === "" ? "-" : String(x));
/** A quoted value: embedded quotes and control characters escaped, so a line stays one line. */
const q = (x: string | undefined) => `"${x === undefined || x === "" ? "-" : escape(x)}"`;

function escape(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
  return /["\\\x00-\x1f\x7f]/.test(s) ? JSON.stringify(s).slice(1, -1) : s;
}

export function requestText(r: RequestRecord, worker?: string): string {
  return (
    `[${iso(r.startTime)}] "${escape(r.method)} ${escape(r.path) || "-"} ${r.protocol}" ` +
    `${r.status} ${flags(r.flags)} ${r.bytesReceived} ${r.bytesSent} ${r.durationMs} ` +
    `${v(r.upstreamServiceTimeMs)} ${q(r.forwardedFor)} ${q(r.userAgent)} ${q(r.requestId)} ` +
    `${q(r.authority)} ${q(r.upstreamHost)} ${v(r.upstreamService)} ${v(r.remoteAddress)} ` +
    `${v(r.sni)} ${v(r.route)} listener=${r.listener} vhost=${v(r.vhost)} retries=${r.retries} ` +
    `peer_subject=${q(r.peerSubject)} peer_uri_san=${v(r.peerUriSan)} ` +
    `downstream_direct_remote_address=${v(r.directRemoteAddress)}` +
    (worker === undefined ? "" : ` worker=${worker}`)
  );
}

export function connectionText(r: ConnectionRecord, worker?: string): string {
  return (
    `[${iso(r.startTime)}] "- - -" 0 ${flags(r.flags)} ${r.bytesReceived} ${r.bytesSent} ` +
    `${r.durationMs} - "-" "-" "-" "-" ${q(r.upstreamHost)} ${v(r.upstreamService)} ` +
    `${v(r.remoteAddress)} ${v(r.sni)} - listener=${r.listener} kind=${r.kind}` +
    (worker === undefined ? "" : ` worker=${worker}`)
  );
}
