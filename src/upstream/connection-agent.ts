// node:http(s) Agents that apply a pool's connection settings (connection-settings.ts): the
// connect timer and SO_KEEPALIVE on each new socket, a socket closed instead of reused after
// maxRequestsPerConnection responses, and a free socket closed after idleTimeout. Through the
// Agent's own hooks (createConnection, keepSocketAlive, reuseSocket), which Bun, Deno and Node
// all call (checked on the three). Without settings these are the plain Agents, as before.

import { Agent as HttpAgent, type AgentOptions, type ClientRequest } from "node:http";
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { dial } from "./connection-settings.ts";
import type { UpstreamConnection } from "./types.ts";

export function httpAgent(options: AgentOptions, c?: UpstreamConnection): HttpAgent {
  if (!c) return new HttpAgent(options);
  return Object.assign(new SettingsHttpAgent(options), { settings: c });
}

export function httpsAgent(options: HttpsAgentOptions, c?: UpstreamConnection): HttpsAgent {
  if (!c) return new HttpsAgent(options);
  return Object.assign(new SettingsHttpsAgent(options), { settings: c });
}

// biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor takes any arguments.
type AgentClass = new (...args: any[]) => HttpAgent;

function withSettings<B extends AgentClass>(Base: B, established: "connect" | "secureConnect") {
  return class extends Base {
    settings!: UpstreamConnection;
    /** Responses completed on each socket, for maxRequestsPerConnection. */
    private readonly served = new WeakMap<Duplex, number>();
    /** The idle timer of each free socket. */
    private readonly idle = new WeakMap<Duplex, ReturnType<typeof setTimeout>>();

    // biome-ignore lint/suspicious/noExplicitAny: node:http's own signature.
    override createConnection(options: any, callback?: any): Duplex {
      const socket = super.createConnection(options, callback) as Socket;
      dial(socket, established, this.settings, `${options.host}:${options.port}`);
      socket.once("close", () => clearTimeout(this.idle.get(socket)));
      return socket;
    }

    /** Called when a response is done and the socket could serve another request. */
    override keepSocketAlive(socket: Duplex): void {
      const max = this.settings.maxRequestsPerConnection;
      if (max > 0) {
        const n = (this.served.get(socket) ?? 0) + 1;
        this.served.set(socket, n);
        // Envoy closes the connection once its last allowed response is done; false makes the
        // Agent destroy the socket instead of pooling it.
        if (n >= max) return false as never;
      }
      const keep = super.keepSocketAlive(socket) as unknown as boolean;
      if (keep) {
        // Envoy's idle_timeout: no request in flight for this long closes the connection.
        const timer = setTimeout(() => socket.destroy(), this.settings.idleTimeoutMs);
        timer.unref?.();
        this.idle.set(socket, timer);
      }
      return keep as never;
    }

    override reuseSocket(socket: Duplex, request: ClientRequest): void {
      clearTimeout(this.idle.get(socket));
      super.reuseSocket(socket, request);
    }
  };
}

const SettingsHttpAgent = withSettings(HttpAgent, "connect");
const SettingsHttpsAgent = withSettings(HttpsAgent, "secureConnect");
