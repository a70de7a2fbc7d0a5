// The admin listener's address, as routes.yaml's settings.admin and --admin both write it: the
// schema, the command line and the CLI's start of the admin listener all read it here.

export interface AdminAddress {
  address: string;
  port: number;
}

/** "127.0.0.1:15000", ":15000" (loopback), "[::1]:15000" or "off"; undefined when it is neither. */
export function parseAdminAddress(value: string): AdminAddress | "off" | undefined {
  if (value === "off") return "off";
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]*)):(\d{1,5})$/.exec(value);
  if (!m || Number(m[3]) > 65535) return undefined;
  return { address: m[1] ?? (m[2] || "127.0.0.1"), port: Number(m[3]) };
}
