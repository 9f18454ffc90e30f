/**
 * returnpath's stand-in for ipamd (which talks to EC2 and the instance metadata service) as a
 * program: one process per lab, one gRPC server per node on a Unix socket, serving the
 * CNIBackend service of the rpc/rpc.proto given (the one of the version under test, from the
 * built component). The answers are ipamd.ts's.
 *
 *   node ipamd-standin.js CONFIG.json
 *
 * Prints `ready <shape> <nodes>` once every socket listens, then one JSON line per request
 * (`{"node","rpc","pod","container","answer"|"error"}`). Exits 0 on SIGTERM/SIGINT, 1 when the
 * proto or a socket cannot be used. It runs inside the lab's fabric namespace, so removing the lab
 * (or `lab clean` after a crash) ends it too.
 */
import { readFile, rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { StandinState, type AddRequest, type Answer, type ReplyShape, type StandinConfig } from './ipamd.js';

function emit(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

/** The CNIBackend service and which reply shape its AddNetworkReply has. */
function loadService(protoPath: string): { service: grpc.ServiceDefinition; shape: ReplyShape } {
  const def = protoLoader.loadSync(protoPath, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    rpc?: { CNIBackend?: { service: grpc.ServiceDefinition } };
  };
  const service = pkg.rpc?.CNIBackend?.service;
  if (!service) throw new Error(`${protoPath} defines no rpc.CNIBackend service`);
  const reply = def['rpc.AddNetworkReply'] as { type?: { field?: { name: string }[] } } | undefined;
  const fields = reply?.type?.field?.map((f) => f.name) ?? [];
  return { service, shape: fields.includes('IPAllocationMetadata') ? 'current' : 'legacy' };
}

function answer(
  node: string,
  rpc: string,
  req: AddRequest,
  a: Answer,
  callback: grpc.sendUnaryData<Record<string, unknown>>,
): void {
  const base = {
    node,
    rpc,
    pod: `${req.K8S_POD_NAMESPACE ?? ''}/${req.K8S_POD_NAME ?? ''}`,
    container: req.ContainerID,
  };
  if ('reply' in a) {
    emit({ ...base, answer: a.reply });
    callback(null, a.reply);
  } else {
    emit({ ...base, error: a.error });
    callback({ code: grpc.status[a.code], details: a.error, name: 'ipamd', message: a.error }, null);
  }
}

async function main(): Promise<void> {
  // A lab left up (`lab up`) stops reading our output once we are ready: lines then go nowhere.
  process.stdout.on('error', () => undefined);
  const cfg = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8')) as StandinConfig;
  const { service, shape } = loadService(cfg.proto);
  const servers: grpc.Server[] = [];
  for (const n of cfg.nodes) {
    const state = new StandinState(n, shape);
    const server = new grpc.Server();
    server.addService(service, {
      AddNetwork: (
        call: grpc.ServerUnaryCall<AddRequest, Record<string, unknown>>,
        cb: grpc.sendUnaryData<Record<string, unknown>>,
      ) => answer(n.node, 'AddNetwork', call.request, state.add(call.request), cb),
      DelNetwork: (
        call: grpc.ServerUnaryCall<AddRequest, Record<string, unknown>>,
        cb: grpc.sendUnaryData<Record<string, unknown>>,
      ) => answer(n.node, 'DelNetwork', call.request, state.del(call.request), cb),
    });
    await rm(n.socket, { force: true });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${n.socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(new Error(`node ${n.node}: cannot listen on ${n.socket}: ${err.message}`)) : resolve(),
      ),
    );
    servers.push(server);
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const s of servers) s.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);
  process.stdout.write(`ready ${shape} ${cfg.nodes.map((n) => n.node).join(',')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`ipamd stand-in: ${(e as Error).message}\n`);
  process.exit(1);
});
