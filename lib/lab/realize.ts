/**
 * Applies a lab plan to the kernel in batched phases: one `ip -batch` for every namespace, then
 * per namespace one sysctl, one link batch, one config batch and one iptables-restore, run
 * concurrently. Nothing touches the host's own namespace: every command either creates a named
 * namespace or runs inside one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandError, ValidationError, type ValidationProblem } from '../errors.js';
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
  /** Set as every namespace's loopback alias: proof for `lab clean` that the namespace is this lab's. */
  marker?: string;
  /** The loopback alias of namespaces the lab adopted (HostPlan.adopt) instead of `marker`. */
  adoptedMarker?: string;
}

export async function realize(plan: LabPlan, opts: RealizeOptions): Promise<void> {
  const { runner, disposer } = opts;
  const limit = opts.concurrency ?? 8;
  const names = plan.hosts.map((h) => h.netns);
  const adopted = plan.hosts.filter((h) => h.adopt !== undefined).map((h) => h.netns);
  const log = opts.log ?? (() => undefined);

  disposer.defer(`namespaces of run ${plan.runId}`, () => deleteNamespaces(runner, names, adopted));
  await runner.run(['ip', '-batch', '-'], {
    input: plan.hosts
      .map((h) => (h.adopt === undefined ? `netns add ${h.netns}\n` : `netns attach ${h.netns} ${h.adopt}\n`))
      .join(''),
  });
  log(
    `created ${names.length - adopted.length} namespaces` +
      (adopted.length > 0 ? `, attached ${adopted.length} (${adopted.join(', ')})` : ''),
  );

  const each = (pick: (h: HostPlan) => boolean, fn: (h: HostPlan) => Promise<unknown>): Promise<unknown[]> =>
    mapLimit(plan.hosts.filter(pick), limit, fn).catch((e: unknown) => {
      // Sysctls several hosts refused: one error naming them all (bad input, not a lab failure).
      const inner = e instanceof AggregateError ? (e.errors as unknown[]) : [e];
      if (inner.length > 1 && inner.every((x) => x instanceof SysctlRefused))
        throw new ValidationError(
          'lab sysctls',
          inner.flatMap((x) => (x as SysctlRefused).problems),
        );
      throw e;
    });

  await each(
    (h) => h.sysctlsEarly.length > 0,
    (h) => sysctl(runner, h.netns, h.sysctlsEarly, h.id),
  );
  await each(
    (h) => h.links.length > 0,
    (h) => ipBatch(runner, h.netns, h.links),
  );
  const markerOf = (h: HostPlan): string[] => {
    const m = h.adopt === undefined ? opts.marker : opts.adoptedMarker;
    return m ? [`link set dev lo alias ${JSON.stringify(m)}`] : [];
  };
  await each(
    (h) => h.config.length + markerOf(h).length > 0,
    (h) => ipBatch(runner, h.netns, [...markerOf(h), ...h.config]),
  );
  await each(
    (h) => h.sysctlsLate.length > 0,
    (h) => sysctl(runner, h.netns, h.sysctlsLate, h.id),
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

/**
 * Writes sysctls inside a namespace. Whatever the kernel refuses (procps sysctl reports some
 * refusals on stderr yet exits 0: a key not kept per namespace) is a SysctlRefused naming each key.
 */
export async function sysctl(
  runner: CommandRunner,
  netns: string,
  kv: readonly [string, string][],
  host = netns,
): Promise<void> {
  const r = await runner.run(
    [...netnsPrefix(netns), 'sysctl', '-q', '-w', ...kv.map(([k, v]) => `${k}=${v}`)],
    {
      allowFailure: true,
    },
  );
  const refusals = sysctlRefusals(r.stderr, kv);
  if (refusals.length > 0) throw new SysctlRefused(host, refusals);
  if (r.code !== 0) throw new CommandError(r.argv, r.code, r.stderr, r.stdout);
}

/** The keys `sysctl -w` refused, from its stderr, each with the value and the kernel's reason in words. */
export function sysctlRefusals(stderr: string, kv: readonly [string, string][]): ValidationProblem[] {
  const values = new Map(kv);
  const byPath = new Map(kv.map(([k]) => [`/proc/sys/${k.replace(/\./g, '/')}`, k]));
  const out: ValidationProblem[] = [];
  for (const line of stderr.split('\n')) {
    let m: RegExpExecArray | null;
    let key: string | undefined;
    let message: string | undefined;
    if ((m = /^sysctl: cannot stat (\S+): (.*)$/.exec(line))) {
      key = byPath.get(m[1]!) ?? m[1]!;
      message = `this kernel has no such key in a network namespace (${m[2]}); some net.* keys exist only in the host's own namespace`;
    } else if ((m = /^sysctl: setting key "([^"]+)"(?:, ignoring)?: (.*)$/.exec(line))) {
      key = m[1]!;
      message =
        m[2] === 'Invalid argument'
          ? 'the kernel refused the value (Invalid argument): out of range or malformed for this key, or the key is read-only in a network namespace'
          : `the kernel refused the value (${m[2]})`;
    } else if ((m = /^sysctl: permission denied on key "([^"]+)"/.exec(line))) {
      key = m[1]!;
      message = 'the key is read-only in a network namespace (permission denied)';
    } else if ((m = /^sysctl: (.+)$/.exec(line))) {
      message = `sysctl refused it: ${m[1]}`;
      key = kv.find(([k]) => m![1]!.includes(k.split('.').slice(-1)[0]!))?.[0] ?? '(unknown key)';
    }
    if (key && message) out.push({ path: key, value: JSON.stringify(values.get(key) ?? ''), message });
  }
  return out;
}

/** Sysctls of a lab host the kernel refused: bad input (exit 2), named key by key. */
export class SysctlRefused extends ValidationError {
  constructor(
    readonly host: string,
    problems: ValidationProblem[],
  ) {
    super(
      `sysctls of lab host ${host}`,
      problems.map((p) => ({ ...p, path: `${host}: ${p.path}` })),
    );
  }
}

/**
 * Kills whatever runs inside the namespaces, then deletes them (their veths go with them).
 * `adopted` ones (a kind node's, attached by name) are only detached: their processes are not the
 * lab's, and the namespace lives on with them.
 */
export async function deleteNamespaces(
  runner: CommandRunner,
  names: readonly string[],
  adopted: readonly string[] = [],
): Promise<void> {
  if (names.length === 0) return;
  await killAll(await pidsInNetns(names.filter((n) => !adopted.includes(n))));
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
