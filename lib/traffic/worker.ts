/**
 * The traffic worker: one process per host (network namespace, container), started by a
 * TrafficAgent and reused for every server and probe on that host. It reads JSON-line requests
 * on stdin and writes one JSON-line response per request on stdout; diagnostics go to stderr.
 * It exits when stdin closes, so it never outlives its agent.
 */
import { createInterface } from 'node:readline';
import { startServer, type RunningServer } from './servers.js';
import { runProbe } from './client.js';
import { LongLivedSession } from './long-lived.js';
import type { Method, Methods, Request, Response, WireError } from './protocol.js';

type Handlers = { [M in Method]: (params: Methods[M][0]) => Promise<Methods[M][1]> };

class WorkerState {
  private readonly servers = new Map<string, RunningServer>();
  private readonly sessions = new Map<number, LongLivedSession>();
  private nextSession = 1;

  readonly handlers: Handlers = {
    hello: async () => ({ pid: process.pid, node: process.version }),
    'server.start': async (spec) => {
      if (this.servers.has(spec.name)) throw new WorkerFault('EEXIST', `server ${spec.name} already running`);
      const server = await startServer(spec);
      this.servers.set(spec.name, server);
      return server.info;
    },
    'server.stop': async ({ name, reset }) => {
      const server = this.servers.get(name);
      if (!server) throw new WorkerFault('ENOENT', `no server named ${name}`);
      this.servers.delete(name);
      return server.stop(reset ?? false);
    },
    probe: (spec) => runProbe(spec),
    'longLived.start': async (spec) => {
      const session = await LongLivedSession.open(this.nextSession++, spec);
      this.sessions.set(session.id, session);
      return session.report();
    },
    'longLived.status': async ({ session }) => this.session(session).report(),
    'longLived.stop': async ({ session }) => {
      const report = this.session(session).stop();
      this.sessions.delete(session);
      return report;
    },
  };

  private session(id: number): LongLivedSession {
    const s = this.sessions.get(id);
    if (!s) throw new WorkerFault('ENOENT', `no long-lived session ${id}`);
    return s;
  }
}

class WorkerFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function toWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as NodeJS.ErrnoException).code;
  return { name: err.name, message: err.message, ...(code ? { code: String(code) } : {}) };
}

function send(r: Response): void {
  process.stdout.write(JSON.stringify(r) + '\n');
}

async function handle(state: WorkerState, line: string): Promise<void> {
  let req: Request;
  try {
    req = JSON.parse(line) as Request;
  } catch {
    process.stderr.write(`worker: unparsable request: ${line.slice(0, 200)}\n`);
    return;
  }
  try {
    const handler = state.handlers[req.method] as ((p: unknown) => Promise<unknown>) | undefined;
    if (!handler) throw new WorkerFault('ENOSYS', `unknown method ${String(req.method)}`);
    send({ id: req.id, ok: true, result: await handler(req.params) });
  } catch (e) {
    send({ id: req.id, ok: false, error: toWire(e) });
  }
}

function main(): void {
  const state = new WorkerState();
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim()) void handle(state, line);
  });
  // stdin closed: the agent is gone or closed us.
  lines.on('close', () => process.exit(0));
}

main();
