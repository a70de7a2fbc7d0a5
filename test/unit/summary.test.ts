// The startup summary's listener lines: a listener with many servers or hosts lists the first
// SUMMARY_ITEMS and counts the rest, in the text and in the JSON fields, and says where the
// whole list is.
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { SUMMARY_ITEMS, listenerLines } from "../../src/cli/summary.ts";
import { parseConfig } from "../../src/config/routes-yaml/parse.ts";
import { provision } from "../../src/provision/provision.ts";
import { book } from "../helpers/book.ts";
import { writeConfig } from "../helpers/portico.ts";

const NOW = new Date("2026-12-01T00:00:00Z");
// The book's webapp certificate expires 2041-06-29T12:49:32Z.
const DAYS = Math.floor((Date.parse("2041-06-29T12:49:32Z") - NOW.getTime()) / 86_400_000);

async function planOf(servers: number, hosts: number) {
  const text = `listeners:
  - { name: web, port: 8080, protocol: HTTP, hosts: [${Array.from({ length: hosts }, (_, i) => `h${i}.test`).join(", ")}] }
  - name: tls
    port: 8443
    protocol: HTTPS
    servers:
${Array.from({ length: servers }, (_, i) => `      - { hosts: [s${i}.test], tls: { credential: webapp } }`).join("\n")}
routes:
  - hosts: ["*"]
    http:
      - directResponse: { status: 200 }
credentials:
  webapp: { cert: ${book.webappCert}, key: ${book.webappKey} }
`;
  return (await provision(parseConfig(text, writeConfig(text)), { now: NOW })).plan;
}

const lineOf = (lines: { msg: string; fields: Record<string, unknown> }[], name: string) =>
  lines.find((l) => l.fields.listener === name)!;

describe("listener lines of a long listener", () => {
  test("up to SUMMARY_ITEMS servers and hosts: each listed, nothing counted", async () => {
    const lines = listenerLines(await planOf(SUMMARY_ITEMS, SUMMARY_ITEMS), [], undefined, undefined, NOW);
    const tls = lineOf(lines, "tls");
    expect(tls.msg).toEndWith(`s${SUMMARY_ITEMS - 1}.test (SIMPLE, webapp, ${DAYS} days left)`);
    expect(tls.fields.servers).toHaveLength(SUMMARY_ITEMS);
    expect(tls.fields.moreServers).toBeUndefined();
    expect(lineOf(lines, "web").fields.hosts).toHaveLength(SUMMARY_ITEMS);
  });

  test("more: the first SUMMARY_ITEMS, the rest counted, and where the whole list is", async () => {
    const plan = await planOf(SUMMARY_ITEMS + 3, SUMMARY_ITEMS + 5);
    const admin = "http://127.0.0.1:15000";
    const lines = listenerLines(plan, [], undefined, admin, NOW);
    const tls = lineOf(lines, "tls");
    expect(tls.msg).toContain(`s${SUMMARY_ITEMS - 1}.test (SIMPLE, webapp, ${DAYS} days left); and 3 more`);
    expect(tls.msg).not.toContain(`s${SUMMARY_ITEMS}.test`);
    expect(tls.msg).toEndWith(
      `; and 3 more servers (their soonest certificate expires in ${DAYS} days; ` +
        `GET ${admin}/certs lists every credential and its hosts)`,
    );
    expect(tls.fields.servers).toHaveLength(SUMMARY_ITEMS);
    expect(tls.fields).toMatchObject({ moreServers: 3, moreServersFewestDaysLeft: DAYS });
    const web = lineOf(lines, "web");
    expect(web.msg).toEndWith(` and 5 more (GET ${admin}/config lists the listeners and their hosts)`);
    expect(web.fields.hosts).toHaveLength(SUMMARY_ITEMS);
    expect(web.fields.moreHosts).toBe(5);
    // Without an admin listener: where it would be.
    const off = lineOf(listenerLines(plan, [], undefined, undefined, NOW), "tls");
    expect(off.msg).toEndWith(
      "the admin listener, when on, lists every credential and its hosts: GET /certs)",
    );
  });
});
