// Upstreams on loopback. For the end-to-end tests, an HTTP one that records what reached it and
// echoes it back, and a TCP one that echoes bytes; for the unit tests, which call the listener
// handler inside the test process, an HTTP echo on Bun.serve (`serveEcho`). (The book's webapp
// and catalog stand-ins are in scripts/demo-upstreams.ts, shared with `npm start`.)
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import { readFileSync } from "node:fs";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { WebSocketServer } from "ws";
import { createServer as createTlsServer } from "node:tls";
import { sleep } from "./net.ts";

/** One request as the upstream received it. */
export interface Seen {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  httpVersion: string;
}

/**
 * Records every request (`seen`) and answers 200 with it as JSON, except:
 * `/hang…` is never answered (`open` counts requests still open, to see aborted clients free
 * them); `/flaky?key=K&fail=N` answers 503 to the first N requests for K (`tries`), then 200.
 * `answer`, when given, is asked first and returns true when it answered the request itself.
 * A WebSocket upgrade is accepted (the `ws` package) and every message echoed.
 */
export class EchoUpstream {
  constructor(private readonly answer?: (seen: Seen, res: ServerResponse) => boolean) {}

  readonly seen: Seen[] = [];
  readonly tries = new Map<string, number>();
  /** Requests whose response is not finished or aborted yet. */
  open = 0;
  port = 0;
  private server?: HttpServer;

  /** How many requests reached the upstream. */
  get count(): number {
    return this.seen.length;
  }

  async start(): Promise<this> {
    this.server = createHttpServer((req, res) => {
      this.open++;
      res.on("close", () => this.open--);
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const { method = "", url: path = "", headers, httpVersion } = req;
        const seen: Seen = { method, url: path, headers, body, httpVersion };
        this.seen.push(seen);
        if (this.answer?.(seen, res)) return;
        const url = new URL(seen.url, "http://upstream");
        if (url.pathname.startsWith("/hang")) return;
        if (url.pathname === "/flaky") {
          const key = url.searchParams.get("key") ?? "";
          const n = (this.tries.get(key) ?? 0) + 1;
          this.tries.set(key, n);
          if (n <= Number(url.searchParams.get("fail") ?? 0)) {
            res.writeHead(503, { "content-type": "text/plain" });
            res.end(`failure ${n}\n`);
            return;
          }
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ tries: n, body }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(seen));
      });
    });
    const wss = new WebSocketServer({ noServer: true });
    this.server.on("upgrade", (req, socket, head) => {
      const { method = "", url = "", headers, httpVersion } = req;
      this.seen.push({ method, url, headers, body: "", httpVersion });
      wss.handleUpgrade(req, socket, head, (ws) =>
        ws.on("message", (data, binary) => ws.send(data, { binary })),
      );
    });
    const server = this.server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** The first request matching `predicate`, waiting up to `ms` for it. */
  async waitFor(predicate: (s: Seen) => boolean, ms = 3_000): Promise<Seen | undefined> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const hit = this.seen.find(predicate);
      if (hit) return hit;
      await sleep(20);
    }
    return undefined;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** Echoes every byte; when the client half-closes, answers "<tag><bytes> bytes, bye" and closes. */
export class TcpEchoServer {
  port = 0;
  /** Connections accepted so far. */
  connections = 0;
  readonly open = new Set<Socket>();
  private server?: TcpServer;

  async start(tag = ""): Promise<this> {
    this.server = createTcpServer({ allowHalfOpen: true }, (s) => {
      this.connections++;
      this.open.add(s);
      s.once("close", () => this.open.delete(s));
      let n = 0;
      s.on("data", (d) => {
        n += d.length;
        s.write(d);
      });
      s.on("end", () => s.end(`${tag}${n} bytes, bye`));
      s.on("error", () => {});
    });
    const server = this.server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    for (const s of this.open) s.destroy();
    await new Promise((r) => server.close(r));
  }
}

/** One request as `serveEcho` received it; the JSON body of its answer. */
export interface Echo {
  /** Which upstream answered. */
  who: string;
  method: string;
  /** The whole URL as the upstream saw it. */
  url: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body: string;
}

const ECHO_HEADERS = { server: "upstream/1.0", "x-upstream": "yes", "x-remove-resp": "1" };

/**
 * An HTTP upstream inside the test process (Bun.serve), for unit tests. Answers 200 with the
 * request as JSON (an `Echo`, tagged `who`) and appends it to `log`. Its answers carry
 * `server: upstream/1.0` (which Portico replaces or drops), `x-upstream: yes` and
 * `x-remove-resp: 1` (for response header rules). Except:
 * - `…/slow` answers "late" after 1 s, longer than a short route timeout;
 * - `/headers-out` answers 201 with hop-by-hop headers, a server header and two cookies;
 * - `…/flaky?key=K&fail=N&status=S` answers S (503 if not given) to the first N calls for K,
 *   counted in `tries`; with `&slow=1` the first call for K takes 300 ms.
 */
export function serveEcho(who: string, log: Echo[] = [], tries = new Map<string, number>()) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname.endsWith("/slow")) {
        await Bun.sleep(1_000);
        return new Response("late");
      }
      if (url.pathname === "/headers-out") {
        const h = new Headers({
          "content-type": "text/plain",
          server: "upstream/1.0",
          connection: "x-private",
          "x-private": "secret",
          "keep-alive": "timeout=5",
          "proxy-authenticate": "Basic",
          upgrade: "h2c",
          trailer: "x-checksum",
          "x-upstream": "yes",
        });
        h.append("set-cookie", "a=1; Path=/; HttpOnly");
        h.append("set-cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
        return new Response("out", { status: 201, headers: h });
      }
      const body = await req.text();
      if (url.pathname.endsWith("/flaky")) {
        const key = url.searchParams.get("key")!;
        const n = (tries.get(key) ?? 0) + 1;
        tries.set(key, n);
        if (url.searchParams.get("slow") === "1" && n === 1) await Bun.sleep(300);
        if (n <= Number(url.searchParams.get("fail") ?? 0)) {
          return new Response(`fail ${n}`, { status: Number(url.searchParams.get("status") ?? 503) });
        }
      }
      const path = req.url.slice(req.url.indexOf("/", 8));
      const headers = Object.fromEntries(req.headers);
      const echo: Echo = { who, method: req.method, url: req.url, path, headers, body };
      log.push(echo);
      return Response.json(echo, { headers: ECHO_HEADERS });
    },
  });
}

/**
 * An HTTP/1.1 upstream on bare node:net (or node:tls with `tls`) that records each request line
 * exactly as it arrived, bytes as latin1, so nothing on the upstream side normalises the target.
 * Answers 200 with the request-target as the body; bodies of requests are not expected.
 */
export class RequestLineUpstream {
  port = 0;
  readonly lines: string[] = [];
  private server?: TcpServer;
  private readonly open = new Set<Socket>();

  async start(tls?: { cert: string; key: string }): Promise<this> {
    const onSocket = (s: Socket) => {
      this.open.add(s);
      s.once("close", () => this.open.delete(s));
      s.on("error", () => {});
      let buffered = "";
      s.on("data", (d: Buffer) => {
        buffered += d.toString("latin1");
        for (let end = buffered.indexOf("\r\n\r\n"); end >= 0; end = buffered.indexOf("\r\n\r\n")) {
          const line = buffered.slice(0, buffered.indexOf("\r\n"));
          buffered = buffered.slice(end + 4);
          this.lines.push(line);
          const target = Buffer.from(line.split(" ")[1] ?? "", "latin1");
          s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${target.length}\r\n\r\n`);
          s.write(target);
        }
      });
    };
    this.server = tls
      ? createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, onSocket)
      : createTcpServer(onSocket);
    const server = this.server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** The request-target of the last request line that contains `marker`. */
  targetWith(marker: string): string | undefined {
    const line = this.lines.findLast((l) => l.includes(marker));
    return line?.split(" ")[1];
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    for (const s of this.open) s.destroy();
    await new Promise((r) => server.close(r));
  }
}
