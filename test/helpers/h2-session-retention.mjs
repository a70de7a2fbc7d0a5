// Plain JS so that node, bun and deno all run it as is (h2-session-timer.test.ts):
//   <runtime> h2-session-retention.mjs <cert> <key> <ca> <sessions> [<module exporting clearTimerOnDestroy>]
// An h2 server with a 300 s idle timeout (as Portico's listeners set) takes <sessions> client
// sessions, each one request and closed; then, after collections, prints how many of the
// server's sessions are still alive (FinalizationRegistry) as JSON. Needs gc(): node/deno --expose-gc.
import { readFileSync } from "node:fs";
import { connect, createSecureServer } from "node:http2";

const [cert, key, ca, count, helper] = process.argv.slice(2);
const hook = helper ? (await import(helper)).clearTimerOnDestroy : undefined;
// Not WeakRefs: V8 keeps a WeakRef's target alive until the job ends, and Node's callbacks from
// native code may not end it (seen: every session kept). A finalizer keeps nothing alive.
let sessions = 0;
let closed = 0;
let collected = 0;
const finalizers = new FinalizationRegistry(() => collected++);
const server = createSecureServer({ cert: readFileSync(cert), key: readFileSync(key) }, (_req, res) =>
  res.end("ok"),
);
server.setTimeout(300_000);
server.on("session", (session) => {
  hook?.(session);
  sessions++;
  finalizers.register(session, 0);
  session.once("close", () => closed++);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const { port } = server.address();
for (let i = 0; i < Number(count); i++) {
  await new Promise((resolve) => {
    const client = connect(`https://127.0.0.1:${port}`, {
      ca: readFileSync(ca),
      servername: "webapp.istioinaction.io",
    });
    client.on("error", resolve);
    const req = client.request({ ":path": "/" });
    req.resume();
    req.on("close", () => {
      client.close();
      client.on("close", resolve);
    });
  });
}
// Let the server side see each connection end, then collect. Both waits are bounded but generous:
// on a loaded machine the last closes and finalizers can take seconds to run, while a session the
// bug keeps stays alive for the 300 s idle timeout, so waiting longer cannot hide it.
for (let i = 0; i < 250 && closed < sessions; i++) {
  await new Promise((r) => setTimeout(r, 20));
}
// A full collection: gc() on V8 (node, deno), Bun.gc(true) on JavaScriptCore. Finalizers run in
// a later task, so collect and wait in rounds until every session is accounted for.
const collect = globalThis.gc ?? (() => globalThis.Bun.gc(true));
for (let i = 0; i < 40 && collected < sessions; i++) {
  await new Promise((r) => setTimeout(r, i < 5 ? 10 : 100));
  collect();
}
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ sessions, closed, alive: sessions - collected }));
server.close();
process.exit(0);
