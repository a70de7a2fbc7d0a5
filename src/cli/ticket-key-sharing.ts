// One session-ticket key for all workers of `portico run --workers N`, so that a client that
// resumes on another worker than the one that issued its ticket does not pay a full handshake
// (Envoy's workers share one key set the same way: session_ticket_keys). The supervisor makes
// the key and each rotation; a worker starts with the key in its environment and, on
// ROTATE_SIGNAL, fetches the new one over the control channel (control.ts). Only where the
// runtime honours ticket keys set from JavaScript: Node (src/tls/ticket-keys.ts).
import {
  newTicketKey,
  parseTicketKey,
  ROTATE_MS,
  TICKET_KEY_ENV,
  TICKET_KEYS_SETTABLE,
  useTicketKey,
} from "../tls/ticket-keys.ts";
import { PorticoError } from "../util/errors.ts";
import { log } from "./log.ts";

/** Tells a worker that a new key waits on the control channel. */
export const ROTATE_SIGNAL = "SIGUSR2";

/** The supervisor's key: `env` for a worker's start, `hex` for the control channel. */
export class SharedTicketKey {
  private key = newTicketKey();
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  /** `tellWorkers`: signals every worker that serves (a starting one reads the key itself). */
  constructor(tellWorkers: () => void) {
    if (!TICKET_KEYS_SETTABLE) return;
    this.timer = setInterval(() => {
      this.key = newTicketKey();
      tellWorkers();
    }, ROTATE_MS);
    this.timer.unref();
  }

  get hex(): string {
    return this.key.toString("hex");
  }

  env(): Record<string, string> {
    return TICKET_KEYS_SETTABLE ? { [TICKET_KEY_ENV]: this.hex } : {};
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * In a worker started with a shared key: takes each new key when the supervisor signals, and
 * once now (a rotation may have come while this worker started). Call before reporting ready:
 * the signal's default action would end the process.
 */
export function followTicketKeys(fetchKey: () => Promise<string>): void {
  if (!TICKET_KEYS_SETTABLE || process.env[TICKET_KEY_ENV] === undefined) return;
  const pull = () =>
    fetchKey()
      .then((hex) => {
        const key = parseTicketKey(hex);
        if (!key) throw new PorticoError("the supervisor sent no ticket key");
        useTicketKey(key);
      })
      .catch((err: Error) => log.error(`could not take the shared ticket key: ${err.message}`));
  process.on(ROTATE_SIGNAL, () => void pull());
  void pull();
}
