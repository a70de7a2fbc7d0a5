// A private key file that other users can read is a warning, at startup and on each reload, as
// OpenSSH refuses such a key ("UNPROTECTED PRIVATE KEY FILE") and Envoy's docs ask for 0600/0400
// secrets. A warning, not an error: a Kubernetes Secret volume mounts files 0644 unless its
// defaultMode says otherwise. Windows has no such mode bits (ACLs), so nothing is said there.

import { fileMode } from "../util/file-reads.ts";

/** Read permission for the group or for others. */
const READABLE_BY_OTHERS = 0o044;

/** The warning for `file`, or undefined when only its owner can read it (or it cannot be checked). */
export function exposedKeyWarning(file: string, what = "private key"): string | undefined {
  if (process.platform === "win32") return undefined;
  // The mode the key's read saw (no second stat of 10,000 key files).
  const seen = fileMode(file);
  return seen === undefined ? undefined : modeWarning(file, seen, what); // unreadable: its read says so
}

/** exposedKeyWarning for a file whose mode is known. */
export function modeWarning(file: string, seen: number, what = "private key"): string | undefined {
  if (process.platform === "win32") return undefined;
  const mode = seen & 0o777;
  if ((mode & READABLE_BY_OTHERS) === 0) return undefined;
  const who = [mode & 0o040 ? "its group" : "", mode & 0o004 ? "every user" : ""]
    .filter(Boolean)
    .join(" and ");
  return `${what} ${file} is readable by ${who} (mode ${mode.toString(8).padStart(4, "0")}); chmod 600 it`;
}
