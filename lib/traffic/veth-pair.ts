/**
 * Two network namespaces joined by a veth pair, for the traffic layer's own integration tests
 * and benchmark (the lab builds real topologies; this is the smallest one that carries traffic).
 *
 *   a (10.99.0.1/24) v0 <——veth——> v0 (10.99.0.2/24) b
 */
import { randomBytes } from 'node:crypto';
import { CommandRunner } from '../exec/command.js';
import { NetnsExec } from '../exec/netns.js';
import { EnvironmentError } from '../errors.js';

export interface VethPair {
  /** Namespace names: `rpt-tr-<random>-a` / `-b`. */
  readonly nsA: string;
  readonly nsB: string;
  readonly a: NetnsExec;
  readonly b: NetnsExec;
  readonly addrA: string;
  readonly addrB: string;
  /** Delete both namespaces (and so the veth). Safe to call twice. */
  destroy(): Promise<void>;
}

export interface VethPairOptions {
  /** First three octets of the /24 used; default 10.99.0. */
  subnet?: string;
}

/** Why a veth pair cannot be built here, or undefined when it can. */
export async function vethPairUnavailable(runner: CommandRunner): Promise<string | undefined> {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  try {
    await runner.run(['ip', '-V']);
    await runner.run(['nsenter', '--version']);
  } catch (e) {
    return `needs iproute2 and nsenter: ${(e as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

export async function createVethPair(runner: CommandRunner, opts: VethPairOptions = {}): Promise<VethPair> {
  const why = await vethPairUnavailable(runner);
  if (why) throw new EnvironmentError(why);
  const id = randomBytes(3).toString('hex');
  const nsA = `rpt-tr-${id}-a`;
  const nsB = `rpt-tr-${id}-b`;
  const subnet = opts.subnet ?? '10.99.0';
  const addrA = `${subnet}.1`;
  const addrB = `${subnet}.2`;
  const created: string[] = [];
  let destroyed: Promise<void> | undefined;
  const destroy = (): Promise<void> =>
    (destroyed ??= (async () => {
      for (const ns of created.reverse())
        await runner.run(['ip', 'netns', 'del', ns], { allowFailure: true });
    })());
  try {
    for (const ns of [nsA, nsB]) {
      await runner.run(['ip', 'netns', 'add', ns]);
      created.push(ns);
    }
    await runner.run([
      'ip',
      '-n',
      nsA,
      'link',
      'add',
      'name',
      'v0',
      'type',
      'veth',
      'peer',
      'name',
      'v0',
      'netns',
      nsB,
    ]);
    for (const [ns, addr] of [
      [nsA, addrA],
      [nsB, addrB],
    ] as const) {
      const batch = [`addr add ${addr}/24 dev v0`, 'link set lo up', 'link set v0 up'].join('\n') + '\n';
      await runner.run(['ip', '-n', ns, '-batch', '-'], { input: batch });
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    nsA,
    nsB,
    a: new NetnsExec(`${nsA}`, nsA, runner),
    b: new NetnsExec(`${nsB}`, nsB, runner),
    addrA,
    addrB,
    destroy,
  };
}
