// Binding a node:net server and shutting it down: every adapter whose front is a node:net
// server (node-http2, node-http2-pipe, bun-sni, node-tcp) listens, tracks and drains the same way.

import type { Server as NetServer, Socket } from "node:net";
import { listenError } from "./listen-error.ts";
import { netSharing } from "./port-sharing.ts";
import type { ListenerEvents, ListenerSpec, RunningListener } from "./types.ts";

/** On shutdown, what is in flight gets this long to finish before connections are cut. */
export const DRAIN_MS = 2_000;

/**
 * Knows every socket of a listener, so shutdown can drain, then cut. What "in flight" means
 * depends on the listener: requests for HTTP (begin/end per request; an idle keep-alive
 * connection does not hold shutdown up), open sockets for TCP (a forwarded connection is in
 * flight until both its sides close).
 */
export class ConnectionTracker {
  private readonly sockets = new Set<Socket>();
  private inFlight = 0;
  private idle: (() => void) | undefined;

  /** `events`: told of each request's begin and end ("requests" trackers only). */
  constructor(
    private readonly waitFor: "requests" | "sockets",
    private readonly events?: ListenerEvents,
  ) {}

  /** A socket accepted; the caller calls `remove` when it closes (one close listener for all). */
  add(socket: Socket): void {
    this.sockets.add(socket);
    if (this.waitFor === "sockets") this.begin();
  }
  remove(socket: Socket): void {
    if (!this.sockets.delete(socket)) return;
    if (this.waitFor === "sockets") this.end();
  }
  begin(): void {
    this.inFlight++;
    if (this.waitFor === "requests") this.events?.requestStarted?.();
  }
  end(): void {
    if (this.waitFor === "requests") this.events?.requestEnded?.();
    if (--this.inFlight === 0) this.idle?.();
  }
  async drain(ms = DRAIN_MS): Promise<void> {
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.idle = () => (clearTimeout(timer), resolve());
      });
    }
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** Binds `server` to the spec's address; the port actually bound. */
export function listen(server: NetServer, spec: ListenerSpec): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(spec, err));
    server.once("error", onError);
    const options = { host: spec.address, port: spec.port, backlog: 4096, ...netSharing(spec.port) };
    server.listen(options, () => {
      server.removeListener("error", onError);
      server.on("error", (err) => spec.onError?.(err));
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : spec.port);
    });
  });
}

/**
 * Listens with `front`, tracking its connections. Closing stops accepting, lets `closeInner`
 * wind down servers behind the front, then drains what is in flight and cuts the rest.
 */
export async function serveFront(
  spec: ListenerSpec,
  front: NetServer,
  tracker: ConnectionTracker,
  closeInner: () => Promise<unknown> = async () => {},
): Promise<RunningListener> {
  const events = spec.events;
  const opened = events?.connectionOpened;
  const closed = events?.connectionClosed;
  // limits.maxConnections: a connection over the cap is closed at once, never queued.
  const max = spec.limits?.maxConnections;
  let open = 0;
  // One close listener, shared by every socket of the listener: what each connection costs
  // bounds the handshakes per second (docs/runtimes.md, "Where a request's CPU goes").
  function onClose(this: Socket): void {
    if (max !== undefined) open--;
    tracker.remove(this);
    closed?.();
  }
  front.on("connection", (socket: Socket) => {
    if (max !== undefined) {
      if (open >= max) return void socket.destroy();
      open++;
    }
    tracker.add(socket);
    opened?.();
    socket.on("close", onClose);
  });
  const port = await listen(front, spec);
  return {
    name: spec.name,
    port,
    close: async () => {
      front.close();
      await closeInner();
      await tracker.drain();
    },
  };
}

/**
 * How long an inner server that updateTls replaced keeps its loopback port: a pipe the front
 * connected just before the swap still lands there and completes its handshake and first
 * request (Bun.serve's stop closes idle connections, a handshake in progress among them).
 */
export const RETIRE_AFTER_MS = 10_000;

/** Inner servers a listener replaced: each set is stopped RETIRE_AFTER_MS later, or with the listener. */
export class Retired<S> {
  private readonly servers = new Set<S>();

  constructor(private readonly stop: (servers: S[]) => Promise<unknown>) {}

  add(servers: S[]): void {
    if (servers.length === 0) return;
    for (const s of servers) this.servers.add(s);
    setTimeout(() => void this.stopNow(servers), RETIRE_AFTER_MS).unref?.();
  }

  /** With the listener: every server still waiting. */
  stopAll(): Promise<unknown> {
    return this.stopNow([...this.servers]);
  }

  private stopNow(servers: S[]): Promise<unknown> {
    const left = servers.filter((s) => this.servers.delete(s));
    return left.length === 0 ? Promise.resolve() : this.stop(left);
  }
}
