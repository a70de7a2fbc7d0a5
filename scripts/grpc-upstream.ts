// A gRPC unary echo service on h2c, for `npm run bench`: @grpc/grpc-js with pass-through
// serializers, so no .proto is needed and the message bytes come back as sent.
//
//   GRPC_PORT=50051 bun scripts/grpc-upstream.ts     → /bench.Echo/Unary on 127.0.0.1:GRPC_PORT

import * as grpc from "@grpc/grpc-js";

export const GRPC_PATH = "/bench.Echo/Unary";

const raw = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  Unary: {
    path: GRPC_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

/** One gRPC message frame (uncompressed) around `message`: what h2load sends with -d. */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export async function startGrpcUpstream(port: number): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(service, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, call.request),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return server;
}

if (import.meta.main) {
  const port = Number(process.env.GRPC_PORT);
  if (!Number.isInteger(port) || port < 1) throw new Error("GRPC_PORT must be a port number");
  await startGrpcUpstream(port);
  process.stderr.write(`gRPC echo on h2c 127.0.0.1:${port}${GRPC_PATH}\n`);
}
