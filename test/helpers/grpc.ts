// A gRPC echo service for the e2e tests: its proto, a @grpc/grpc-js server (h2c or TLS) and
// clients, with @grpc/proto-loader. `who` in each answer tells which upstream answered.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export { grpc };

const PROTO = `
syntax = "proto3";
package echo;
service Echo {
  rpc Unary (Msg) returns (Msg);
  rpc ServerStream (Msg) returns (stream Msg);
  rpc ClientStream (stream Msg) returns (Msg);
  rpc Bidi (stream Msg) returns (stream Msg);
}
service Missing { rpc Call (Msg) returns (Msg); }
message Msg { string text = 1; int32 n = 2; }
`;

export interface Msg {
  text: string;
  n: number;
}
export type Callback = (err: grpc.ServiceError | null, res?: Msg) => void;
// biome-ignore lint/suspicious/noExplicitAny: grpc-js builds client classes at run time.
export type Client = any;

const protoFile = join(mkdtempSync(join(tmpdir(), "portico-grpc-")), "echo.proto");
writeFileSync(protoFile, PROTO);
/** The loaded package: `pkg.echo.Echo` and `pkg.echo.Missing` are client classes. */
export const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile, { defaults: true })) as Client;

export const BINARY = Buffer.from([0, 1, 2, 0xfe, 0xff]);

/** The echo service; `who` tells which upstream answered. */
export function echoServer(who: string): grpc.UntypedServiceImplementation {
  return {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      const { text } = call.request;
      const init = new grpc.Metadata();
      init.set("x-init-bin", BINARY);
      init.set("x-who", who);
      call.sendMetadata(init);
      if (text === "fail") {
        const trailer = new grpc.Metadata();
        trailer.set("detail-bin", BINARY);
        trailer.set("x-reason", "bad");
        return cb({
          code: grpc.status.INVALID_ARGUMENT,
          details: "bad input: ünïcode 100%",
          metadata: trailer,
        });
      }
      if (text === "slow") return void setTimeout(() => cb(null, { text, n: 0 }), 3000);
      cb(null, { text: `${who}:${text}`, n: call.request.n + 1 });
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      for (let i = 0; i < call.request.n; i++) call.write({ text: `${call.request.text}${i}`, n: i });
      call.end();
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      const texts: string[] = [];
      call.on("data", (m: Msg) => texts.push(m.text));
      call.on("end", () => cb(null, { text: texts.join(","), n: texts.length }));
    },
    Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      call.on("data", (m: Msg) => call.write({ text: m.text.toUpperCase(), n: m.n }));
      call.on("end", () => call.end());
    },
  };
}

const ports = new Map<grpc.Server, number>();
export async function startGrpc(who: string, creds: grpc.ServerCredentials): Promise<grpc.Server> {
  const s = new grpc.Server();
  s.addService(pkg.echo.Echo.service, echoServer(who));
  const bound = await new Promise<number>((resolve, reject) =>
    s.bindAsync("127.0.0.1:0", creds, (err, port) => (err ? reject(err) : resolve(port))),
  );
  ports.set(s, bound);
  return s;
}
export const portOf = (s: grpc.Server) => ports.get(s)!;
