/**
 * A port of an engine's network namespace made reachable on this machine's loopback without any
 * link between the namespaces: one relay inside the engine's namespace listens on a Unix socket
 * (a file, seen from every namespace) and dials the port there; one on the host listens on
 * 127.0.0.1 and dials the socket. Both are lib/kube/relay.js, detached so that a cluster kept on
 * purpose stays reachable after the command that made it exits; they are recorded by identity
 * and ended by `stopRelays`.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { identityAlive, processStartTime, type ProcessIdentity } from '../exec/process-identity.js';
import { forwardArg } from '../kube/relay-spec.js';
import { DIST_DIR } from '../lab/lab.js';
import { signal } from './host-resources.js';

export interface RelayedPort {
  /** The port on this machine's 127.0.0.1. */
  port: number;
  socket: string;
  processes: ProcessIdentity[];
}

export interface RelayOptions {
  /** The engine's network namespace (`ip netns` name) and the port on its 127.0.0.1. */
  netns: string;
  target: number;
  /** Where the socket and the relays' logs go (the engine's runtime directory). */
  dir: string;
  name: string;
  timeoutMs?: number;
}

export async function relayPort(o: RelayOptions): Promise<RelayedPort> {
  const socket = join(o.dir, `${o.name}.sock`);
  const processes: ProcessIdentity[] = [];
  try {
    processes.push(
      detached(
        [
          'nsenter',
          `--net=/run/netns/${o.netns}`,
          '--',
          process.execPath,
          join(DIST_DIR, 'lib/kube/relay.js'),
          forwardArg({ kind: 'unix', path: socket }, { kind: 'tcp', host: '127.0.0.1', port: o.target }),
        ],
        join(o.dir, `${o.name}-relay-in.log`),
      ),
    );
    await reachable(() => connect(socket), `the relay in ${o.netns} (${socket})`, processes, o.timeoutMs);
    const port = await freeLoopbackPort();
    processes.push(
      detached(
        [
          process.execPath,
          join(DIST_DIR, 'lib/kube/relay.js'),
          forwardArg({ kind: 'tcp', host: '127.0.0.1', port }, { kind: 'unix', path: socket }),
        ],
        join(o.dir, `${o.name}-relay-out.log`),
      ),
    );
    await reachable(
      () => connect(port, '127.0.0.1'),
      `the relay on 127.0.0.1:${port}`,
      processes,
      o.timeoutMs,
    );
    return { port, socket, processes };
  } catch (e) {
    await stopRelays(processes);
    throw e;
  }
}

/** Ends relays by identity (a recycled pid is left alone). */
export async function stopRelays(ids: readonly ProcessIdentity[]): Promise<void> {
  for (const id of ids) if (identityAlive(id)) signal(id.pid, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  while (ids.some(identityAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const id of ids) if (identityAlive(id)) signal(id.pid, 'SIGKILL');
}

export function relaysAlive(ids: readonly ProcessIdentity[]): boolean {
  return ids.length > 0 && ids.every(identityAlive);
}

function detached(argv: readonly string[], logFile: string): ProcessIdentity {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new EnvironmentError(`could not start ${argv.join(' ')}`);
    child.unref();
    return { pid: child.pid, startTime: processStartTime(child.pid) ?? 0 };
  } finally {
    closeSync(fd);
  }
}

async function reachable(
  dial: () => ReturnType<typeof connect>,
  what: string,
  processes: readonly ProcessIdentity[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = dial();
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!processes.every(identityAlive)) throw new EnvironmentError(`${what} exited before it listened`);
    if (Date.now() > deadline) throw new EnvironmentError(`${what} did not listen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A port free on 127.0.0.1 now (the kernel's choice). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
