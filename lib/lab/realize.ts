/**
 * Applies a lab plan to the kernel in batched phases: one `ip -batch` for every namespace, then
 * per namespace one sysctl, one link batch, one config batch and one iptables-restore, run
 * concurrently. Nothing touches the host's own namespace: every command either creates a named
 * namespace or runs inside one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mapLimit, type CommandRunner } from '../exec/command.js';
import { netnsPrefix } from '../exec/netns.js';
import type { Disposer } from './disposer.js';
import type { HostPlan, LabPlan } from './plan.js';
import { pidsInNetns } from './state.js';

export interface RealizeOptions {
  runner: CommandRunner;
  disposer: Disposer;
  concurrency?: number;
  log?: (line: string) => void;
}

export async function realize(plan: LabPlan, opts: RealizeOptions): Promise<void> {
  const { runner, disposer } = opts;
  const limit = opts.concurrency ?? 8;
  const names = plan.hosts.map((h) => h.netns);
  const log = opts.log ?? (() => undefined);

  disposer.defer(`namespaces of run ${plan.runId}`, () => deleteNamespaces(runner, names));
  await runner.run(['ip', '-batch', '-'], { input: names.map((n) => `netns add ${n}\n`).join('') });
  log(`created ${names.length} namespaces`);

  const each = (pick: (h: HostPlan) => boolean, fn: (h: HostPlan) => Promise<unknown>): Promise<unknown[]> =>
    mapLimit(plan.hosts.filter(pick), limit, fn);

  await each(
    (h) => h.sysctlsEarly.length > 0,
    (h) => sysctl(runner, h.netns, h.sysctlsEarly),
  );
  await each(
    (h) => h.links.length > 0,
    (h) => ipBatch(runner, h.netns, h.links),
  );
  await each(
    (h) => h.config.length > 0,
    (h) => ipBatch(runner, h.netns, h.config),
  );
  await each(
    (h) => h.sysctlsLate.length > 0,
    (h) => sysctl(runner, h.netns, h.sysctlsLate),
  );
  await each(
    (h) => !h.ruleset.isEmpty(),
    (h) => runner.run([...netnsPrefix(h.netns), 'iptables-restore', '-w'], { input: h.ruleset.render() }),
  );
  log('links, addresses, routes, rules, sysctls and iptables applied');
}

export function ipBatch(runner: CommandRunner, netns: string, lines: readonly string[]): Promise<unknown> {
  return runner.run(['ip', '-n', netns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

export function sysctl(
  runner: CommandRunner,
  netns: string,
  kv: readonly [string, string][],
): Promise<unknown> {
  return runner.run([...netnsPrefix(netns), 'sysctl', '-q', '-w', ...kv.map(([k, v]) => `${k}=${v}`)]);
}

/** Kills whatever runs inside the namespaces, then deletes them (their veths go with them). */
export async function deleteNamespaces(runner: CommandRunner, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await killAll(await pidsInNetns(names));
  await runner.run(['ip', '-force', '-batch', '-'], {
    input: names.map((n) => `netns del ${n}\n`).join(''),
    allowFailure: true,
  });
}

async function killAll(pids: number[]): Promise<void> {
  const signal = (sig: NodeJS.Signals): number[] =>
    pids.filter((p) => {
      try {
        process.kill(p, sig);
        return true;
      } catch {
        return false;
      }
    });
  let alive = signal('SIGTERM');
  for (let i = 0; i < 20 && alive.length > 0; i++) {
    await sleep(25);
    alive = alive.filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    });
  }
  pids = alive;
  signal('SIGKILL');
}
