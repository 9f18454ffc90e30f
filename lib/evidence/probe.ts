/**
 * Evidence taken around an action: kernel counters and iptables rule counters on a set of hosts
 * before and after, concurrently, and their per-host deltas (cilium's `ExpectMetricsIncrease`).
 * The probe records; attribution.ts interprets; suites assert.
 */
import type { HostExec } from '../exec/netns.js';
import { type CounterDelta, type CounterSnapshot, diffCounters, snapshotCounters } from './counters.js';
import {
  type IptablesSnapshot,
  IPTABLES_SAVE,
  type RulesDelta,
  diffRules,
  snapshotRules,
} from './iptables.js';
import { type ConntrackEntry, listConntrack } from './conntrack.js';
import { runOnHost } from './host-run.js';
import { NFT_LIST, parseNftCounters } from './nft.js';

export interface ProbeOptions {
  /** Snapshot iptables rule counters too (one more process per host and snapshot). Default true. */
  rules?: boolean;
  /** The iptables-save argv (e.g. `['iptables-legacy-save', '-c']`). Default `iptables-save -c`. */
  iptablesSave?: readonly string[];
  /** List the conntrack table after the action. Default false. */
  conntrack?: boolean;
  /**
   * Hosts whose nftables counters (tables iptables does not manage, e.g. the real VPC CNI's
   * `table ip aws-cni`) are read with the rules: one more process on each of them.
   */
  nft?: (host: string) => boolean;
  /**
   * Hosts whose drops happen in an nftables table without per-rule counters (the real kube-proxy
   * in nftables mode: `ip kube-proxy`), host id → table. Their unexplained inbound packets are
   * attributed to that table (whereDropped).
   */
  nftablesDrops?: ReadonlyMap<string, string>;
}

export interface HostSnapshot {
  host: string;
  counters: CounterSnapshot;
  rules?: IptablesSnapshot;
}

export interface HostDelta {
  host: string;
  /** Counters that changed, `Tcp.OutRsts` → +n. */
  counters: CounterDelta;
  /** Rules (and chain policies) whose counters rose; empty when rules were not snapshotted. */
  rules: RulesDelta;
  /** The conntrack table after the action, when asked for. */
  conntrackAfter?: ConntrackEntry[];
  /** Milliseconds between the two counter reads. */
  elapsedMs: number;
  /** Commands that took the evidence, runnable from the root namespace. */
  commands: (readonly string[])[];
  /** The nftables table that drops without counters on this host (ProbeOptions.nftablesDrops). */
  nftablesDropTable?: string;
}

export interface Measurement<T> {
  result: T;
  deltas: HostDelta[];
}

/** One host's counters (and rules) now, read concurrently. */
export async function snapshotHost(exec: HostExec, opts: ProbeOptions = {}): Promise<HostSnapshot> {
  const withNft = opts.rules !== false && (opts.nft?.(exec.host) ?? false);
  const [counters, rules, nft] = await Promise.all([
    snapshotCounters(exec),
    opts.rules === false ? undefined : snapshotRules(exec, opts.iptablesSave ?? IPTABLES_SAVE),
    withNft ? runOnHost(exec, NFT_LIST) : undefined,
  ]);
  if (rules && nft) rules.rules.push(...parseNftCounters(nft.stdout, nft.stderr).rules);
  return { host: exec.host, counters, ...(rules && { rules }) };
}

/** Per-host delta of two snapshots of the same host. */
export function diffHost(before: HostSnapshot, after: HostSnapshot): HostDelta {
  const rules =
    before.rules && after.rules ? diffRules(before.rules, after.rules) : { rules: [], policies: [] };
  return {
    host: after.host,
    counters: diffCounters(before.counters, after.counters),
    rules,
    elapsedMs: after.counters.takenAt - before.counters.takenAt,
    commands: [after.counters.argv, ...(after.rules ? [after.rules.argv] : [])],
  };
}

/**
 * Snapshots before and after an action on a fixed set of hosts. `start()` once, run the action,
 * `finish()` once; or use `measure()`.
 */
export class EvidenceProbe {
  private before: HostSnapshot[] | undefined;

  constructor(
    readonly hosts: readonly HostExec[],
    private readonly opts: ProbeOptions = {},
  ) {}

  /** Take the "before" snapshots on every host, concurrently. */
  async start(): Promise<void> {
    if (this.before) throw new Error('EvidenceProbe.start() called twice');
    this.before = await Promise.all(this.hosts.map((h) => snapshotHost(h, this.opts)));
  }

  /** Take the "after" snapshots and return the per-host deltas, in the order of `hosts`. */
  async finish(): Promise<HostDelta[]> {
    const before = this.before;
    if (!before) throw new Error('EvidenceProbe.finish() called before start()');
    const after = await Promise.all(
      this.hosts.map(async (h) => {
        const [snap, conntrack] = await Promise.all([
          snapshotHost(h, this.opts),
          this.opts.conntrack ? listConntrack(h) : undefined,
        ]);
        return { snap, conntrack };
      }),
    );
    return after.map(({ snap, conntrack }, i) => {
      const d = diffHost(before[i] as HostSnapshot, snap);
      const table = this.opts.nftablesDrops?.get(d.host);
      return {
        ...d,
        ...(conntrack && { conntrackAfter: conntrack }),
        ...(table && { nftablesDropTable: table }),
      };
    });
  }
}

/** Run `action` between before/after snapshots of `hosts`; an error from the action propagates. */
export async function measure<T>(
  hosts: readonly HostExec[],
  action: () => Promise<T>,
  opts: ProbeOptions = {},
): Promise<Measurement<T>> {
  const probe = new EvidenceProbe(hosts, opts);
  await probe.start();
  const result = await action();
  return { result, deltas: await probe.finish() };
}
