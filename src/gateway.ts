// Starts one listener per configured port from a provisioned Plan, wiring each to its Hono app.
// The only module that knows both the HTTP core and a listener adapter (besides the CLI).

import { createListenerApp, type ListenerRef } from "./http/app.ts";
import type { ListenerSpec, RunningListener, StartListener, TlsListenerSpec } from "./listeners/types.ts";
import type { HttpsListenerPlan, Plan } from "./provision/plan.ts";
import { streamListenerSpec } from "./tcp/route.ts";
import type { UpstreamClients } from "./upstream/clients.ts";

export interface Gateway {
  listeners: RunningListener[];
  /** Which adapter serves a listener ("bun-serve", "node-http2", ...). */
  adapterOf(listener: RunningListener): string;
  close(): Promise<void>;
}

export async function startGateway(
  plan: Plan,
  deps: {
    /** Chooses the adapter for each listener (see listeners/select.ts). */
    adapterFor: (spec: ListenerSpec) => { name: string; start: StartListener };
    clients: UpstreamClients;
    onError?: (err: Error) => void;
  },
): Promise<Gateway> {
  const started: RunningListener[] = [];
  const adapters = new Map<RunningListener, string>();
  try {
    for (const l of plan.listeners) {
      const ref: ListenerRef = { current: l, serverHeader: plan.serverHeader };
      const app = createListenerApp(ref, deps.clients);
      const spec: ListenerSpec = {
        name: l.name,
        address: l.address,
        port: l.port,
        tls: l.kind === "https" ? tlsSpec(l) : undefined,
        handler: (req, conn) => app.fetch(req, conn),
        onError: deps.onError,
      };
      const adapter = deps.adapterFor(spec);
      const running = await adapter.start(spec);
      started.push(running);
      adapters.set(running, adapter.name);
    }
    for (const l of plan.streamListeners) {
      const spec: ListenerSpec = { name: l.name, address: l.address, port: l.port, stream: streamListenerSpec(l), handler: notHttp, onError: deps.onError };
      const adapter = deps.adapterFor(spec);
      const running = await adapter.start(spec);
      started.push(running);
      adapters.set(running, adapter.name);
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
  return {
    listeners: started,
    adapterOf: (l) => adapters.get(l) ?? "",
    close: async () => void (await Promise.all(started.map((s) => s.close()))),
  };
}

/** TCP and TLS-passthrough listeners carry no HTTP; their adapter never calls the handler. */
function notHttp(): Response {
  return new Response(null, { status: 500 });
}

function tlsSpec(l: HttpsListenerPlan): TlsListenerSpec {
  return {
    policies: l.servers.map((s) => ({
      hosts: s.hosts,
      certPem: s.credential.certPem,
      keyPem: s.credential.keyPem,
      caPem: s.mode === "SIMPLE" ? undefined : s.credential.caPem,
      requireClientCert: s.mode === "MUTUAL",
      requestClientCert: s.mode === "OPTIONAL_MUTUAL",
      // A SIMPLE server never asks for a certificate, so there is nothing to check.
      checkClientCert: s.mode === "SIMPLE" ? undefined : s.clientCertCheck,
      minVersion: s.minVersion,
      maxVersion: s.maxVersion,
      ciphers: s.ciphers,
    })),
    // No SNI matches only a server that lists "*", as in Istio; anything else is refused.
    selectPolicy: (name) => l.serverByHost.match(name ?? "")?.index,
    defaultPolicy: l.servers.find((s) => s.hosts.includes("*"))?.index,
    minVersion: "TLSv1.2",
  };
}
