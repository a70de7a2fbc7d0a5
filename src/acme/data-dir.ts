// Where Portico keeps what it makes (ACME accounts, certificates, locks) when --data is not
// given. Root: /var/lib/portico, as a system daemon's state goes (FHS 3.0 §5.8). A user:
// $XDG_DATA_HOME/portico, else ~/.local/share/portico (XDG Base Directory Specification):
// state that must survive a reboot and is not a cache (losing it means ordering again, which
// counts against the CA's rate limits).

import { homedir } from "node:os";
import { join, resolve } from "node:path";

export function defaultDataDir(env: Record<string, string | undefined> = process.env): string {
  if (process.getuid?.() === 0) return "/var/lib/portico";
  const xdg = env.XDG_DATA_HOME;
  if (xdg && xdg.startsWith("/")) return join(xdg, "portico");
  return join(homedir(), ".local", "share", "portico");
}

export function dataDirOf(flag: string | undefined): string {
  return flag === undefined ? defaultDataDir() : resolve(flag);
}
