// One wording for "cannot listen", whichever runtime API failed to bind.
import { ListenError } from "../../util/errors.ts";
import { classifyError } from "../../util/runtime-error.ts";
import type { ListenerSpec } from "./types.ts";

export function listenError(spec: ListenerSpec, err: unknown): ListenError {
  const { kind, message } = classifyError(err);
  const hint =
    kind === "address-in-use"
      ? "the port is in use"
      : kind === "permission-denied"
        ? "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        : (message ?? String(err));
  return new ListenError(`listener "${spec.name}" cannot listen on ${spec.address}:${spec.port}: ${hint}`, {
    cause: err,
  });
}
