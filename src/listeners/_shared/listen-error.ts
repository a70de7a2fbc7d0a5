// One wording for "cannot listen", whichever runtime API failed to bind.
import { ListenError } from "../../errors.ts";
import type { ListenerSpec } from "./types.ts";

export function listenError(spec: ListenerSpec, err: unknown): ListenError {
  const e = err as { code?: string; name?: string; message?: string };
  const text = `${e.code ?? ""} ${e.name ?? ""} ${e.message ?? ""}`;
  const hint = /EADDRINUSE|AddrInUse|address already in use|in use/i.test(text)
    ? "the port is in use"
    : /EACCES|PermissionDenied|permission denied/i.test(text)
      ? "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
      : (e.message ?? String(err));
  return new ListenError(`listener "${spec.name}" cannot listen on ${spec.address}:${spec.port}: ${hint}`, { cause: err });
}
