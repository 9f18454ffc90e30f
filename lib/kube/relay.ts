/**
 * A byte relay, as a program (run it inside a namespace with nsenter):
 *
 *   node relay.js tcp:127.0.0.1:6443=unix:/tmp/x/apiserver.sock unix:/tmp/x/node-1.metrics.sock=tcp:127.0.0.1:10249
 *
 * Each forward listens on its first end and pipes every connection to its second, unchanged (TLS
 * passes through end to end). Prints `listening <forward>` once each listener is up. Exits 0 on
 * SIGTERM/SIGINT (removing the unix sockets it created); exits 1 on bad arguments or a failed listen.
 */
import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { parseForwards, type Endpoint, type Forward } from './relay-spec.js';

function dial(target: Endpoint): Socket {
  return target.kind === 'tcp' ? connect(target.port, target.host) : connect(target.path);
}

function serve(f: Forward): Server {
  const server = createServer((inbound) => {
    const outbound = dial(f.target);
    inbound.pipe(outbound).pipe(inbound);
    const close = (): void => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close).on('close', close);
    outbound.on('error', close).on('close', close);
  });
  server.on('error', (e) => {
    process.stderr.write(`relay: ${f.text}: ${e.message}\n`);
    process.exit(1);
  });
  const ready = (): void => void process.stdout.write(`listening ${f.text}\n`);
  if (f.listen.kind === 'tcp') server.listen(f.listen.port, f.listen.host, ready);
  else {
    rmSync(f.listen.path, { force: true });
    server.listen(f.listen.path, ready);
  }
  return server;
}

function main(): void {
  let forwards: Forward[];
  try {
    forwards = parseForwards(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`relay: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const servers = forwards.map(serve);
  const stop = (): void => {
    for (const s of servers) s.close();
    for (const f of forwards) if (f.listen.kind === 'unix') rmSync(f.listen.path, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);
}

main();
