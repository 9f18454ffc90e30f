/**
 * Attribution over per-host deltas: who sent the TCP resets, where packets were dropped and why.
 * Pure functions; the results carry one-line summaries for reports and failure messages.
 */
import { MACHINE_WIDE_PREFIX, deltaOf } from './counters.js';
import { formatRule, type RuleDelta } from './iptables.js';
import type { HostDelta } from './probe.js';

/** Comment prefix of the fabric's EC2 source/destination check rules: `returnpath:source-dest-check <eni>`. */
export const SOURCE_DEST_CHECK_COMMENT = 'returnpath:source-dest-check';

/** Host name used for a finding that only a machine-wide counter shows. */
export const MACHINE_HOST = '(machine)';

export interface CounterRise {
  host: string;
  count: number;
}

/** Hosts whose counter `name` rose, largest rise first (ties by host name). */
export function increased(deltas: readonly HostDelta[], name: string): CounterRise[] {
  return deltas
    .map((d) => ({ host: d.host, count: deltaOf(d.counters, name) }))
    .filter((r) => r.count > 0)
    .sort((a, b) => b.count - a.count || a.host.localeCompare(b.host));
}

export interface ResetFinding extends CounterRise {
  /** TcpExt.TCPAbortOn* counters that rose on the same host: why local sockets were aborted. */
  aborts: Record<string, number>;
  summary: string;
}

/** Hosts that sent TCP resets (Tcp.OutRsts rose), most resets first. */
export function whoSentResets(deltas: readonly HostDelta[]): ResetFinding[] {
  const byHost = new Map(deltas.map((d) => [d.host, d]));
  return increased(deltas, 'Tcp.OutRsts').map(({ host, count }) => {
    const counters = byHost.get(host)?.counters ?? {};
    const aborts: Record<string, number> = {};
    for (const name of Object.keys(counters).sort()) {
      const v = counters[name] as number;
      if (name.startsWith('TcpExt.TCPAbortOn') && v > 0) aborts[name.slice('TcpExt.'.length)] = v;
    }
    const why = Object.entries(aborts).map(([n, v]) => `${n} +${v}`);
    const summary =
      `${host} sent ${count} TCP reset${count === 1 ? '' : 's'} (Tcp.OutRsts +${count})` +
      (why.length ? `; local aborts: ${why.join(', ')}` : '');
    return { host, count, aborts, summary };
  });
}

export type DropReason =
  'rp_filter' | 'martian-source' | 'martian-destination' | 'rule' | 'source-dest-check';

export interface DropFinding {
  /** The host that dropped, or MACHINE_HOST when a machine-wide counter cannot be pinned on one. */
  host: string;
  reason: DropReason;
  count: number;
  /** What dropped: the counter, or table/chain/rule/comment. */
  detail: string;
  /**
   * `host` when a per-namespace counter shows it; `machine` when it comes from a machine-wide counter
   * (rt_cache) and `host` was inferred by elimination, or is MACHINE_HOST.
   */
  scope: 'host' | 'machine';
  /** The rule, for reasons `rule` and `source-dest-check`. */
  rule?: { table: string; chain: string; index?: number; rule: string; comment?: string; target?: string };
  summary: string;
}

const REASON_ORDER: readonly DropReason[] = [
  'rp_filter',
  'martian-source',
  'martian-destination',
  'source-dest-check',
  'rule',
];

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function ruleFindings(d: HostDelta): DropFinding[] {
  const out: DropFinding[] = [];
  for (const r of d.rules.rules) {
    if (r.packets <= 0 || (r.target !== 'DROP' && r.target !== 'REJECT')) continue;
    out.push(ruleFinding(d.host, r));
  }
  for (const p of d.rules.policies) {
    if (p.packets <= 0 || p.policy !== 'DROP') continue;
    const detail = `${p.table}/${p.chain} policy DROP`;
    out.push({
      host: d.host,
      reason: 'rule',
      count: p.packets,
      detail,
      scope: 'host',
      rule: { table: p.table, chain: p.chain, rule: `-P ${p.chain} DROP`, target: 'DROP' },
      summary: `${d.host} dropped ${plural(p.packets, 'packet')} by the ${detail}`,
    });
  }
  return out;
}

function ruleFinding(host: string, r: RuleDelta): DropFinding {
  const { table, chain, index, rule, comment, target } = r;
  const ruleInfo = {
    table,
    chain,
    index,
    rule,
    ...(comment !== undefined && { comment }),
    ...(target !== undefined && { target }),
  };
  const text = formatRule(r) + (comment !== undefined ? ` ("${comment}")` : '');
  if (target === 'DROP' && comment?.startsWith(SOURCE_DEST_CHECK_COMMENT)) {
    const eni = comment.slice(SOURCE_DEST_CHECK_COMMENT.length).trim() || '(unnamed ENI)';
    return {
      host,
      reason: 'source-dest-check',
      count: r.packets,
      detail: `${eni}: ${text}`,
      scope: 'host',
      rule: ruleInfo,
      summary: `${host} dropped ${plural(r.packets, 'packet')} at the source/destination check of ${eni}`,
    };
  }
  const verb = target === 'REJECT' ? 'rejected' : 'dropped';
  return {
    host,
    reason: 'rule',
    count: r.packets,
    detail: text,
    scope: 'host',
    rule: ruleInfo,
    summary:
      `${host} ${verb} ${plural(r.packets, 'packet')} by rule ${table}/${chain}#${index}` +
      (comment !== undefined ? ` "${comment}"` : ` ${rule}`),
  };
}

/**
 * Inbound IPv4 packets a host received but neither delivered, forwarded nor counted as dropped for
 * a known reason (rp_filter, header/address errors, discards, DROP/REJECT rules). A martian drop
 * leaves exactly this trace in the namespace's own counters.
 */
export function unexplainedInbound(d: HostDelta): number {
  const c = (n: string): number => deltaOf(d.counters, n);
  const ruleDrops =
    d.rules.rules
      .filter((r) => r.target === 'DROP' || r.target === 'REJECT')
      .reduce((s, r) => s + r.packets, 0) +
    d.rules.policies.filter((p) => p.policy === 'DROP').reduce((s, p) => s + p.packets, 0);
  return (
    c('Ip.InReceives') -
    c('Ip.InDelivers') -
    c('Ip.ForwDatagrams') -
    c('Ip.InDiscards') -
    c('Ip.InHdrErrors') -
    c('Ip.InAddrErrors') -
    c('Ip.InUnknownProtos') -
    c('TcpExt.IPReversePathFilter') -
    ruleDrops
  );
}

/**
 * rt_cache.in_martian_src counts, machine-wide: packets from an impossible source (one of the
 * receiver's own addresses without accept_local, loopback, multicast, ...), IPv4 packets that fail
 * the reverse-path check (those also count in the receiver's TcpExt.IPReversePathFilter), and ARP
 * requests whose sender fails it (no per-namespace trace at all). The rp_filter part is taken
 * out; the rest is pinned on a measured host only when exactly one has unexplained inbound packets.
 */
function martianFindings(
  deltas: readonly HostDelta[],
  counter: string,
  reason: DropReason,
  pinnedOnly: boolean,
): DropFinding[] {
  const name = `${MACHINE_WIDE_PREFIX}${counter}`;
  const raw = Math.max(0, ...deltas.map((d) => deltaOf(d.counters, name)));
  const rpf =
    reason === 'martian-source'
      ? deltas.reduce((s, d) => s + Math.max(0, deltaOf(d.counters, 'TcpExt.IPReversePathFilter')), 0)
      : 0;
  const count = raw - rpf;
  if (count <= 0) return [];
  const candidates = deltas
    // A host whose unexplained packets an nftables table took (nftablesFinding) is not a candidate.
    .filter((d) => d.nftablesDropTable === undefined)
    .map((d) => ({ host: d.host, n: unexplainedInbound(d) }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n || a.host.localeCompare(b.host));
  const what = reason === 'martian-source' ? 'martian source' : 'martian destination';
  const base = `${name} +${raw}${rpf ? ` (−${rpf} counted as rp_filter)` : ''} (machine-wide counter)`;
  const only = candidates.length === 1 ? candidates[0] : undefined;
  if (only) {
    // The machine-wide rise may include other namespaces' martians: at most what this host lost.
    const pinned = Math.min(count, only.n);
    return [
      {
        host: only.host,
        reason,
        count: pinned,
        detail: `${base}; ${only.host} is the only measured host with unexplained inbound packets (${only.n})`,
        scope: 'machine',
        summary: `${only.host} dropped ${plural(pinned, 'packet')} as ${what} (inferred: ${name} is machine-wide)`,
      },
    ];
  }
  if (pinnedOnly) return [];
  const detail = candidates.length
    ? `${base}; candidates with unexplained inbound packets: ${candidates.map((x) => `${x.host} (${x.n})`).join(', ')}`
    : `${base}; no measured host has unexplained inbound packets (an ARP request failing rp_filter, ` +
      'or a drop in a namespace not measured)';
  return [
    {
      host: MACHINE_HOST,
      reason,
      count,
      detail,
      scope: 'machine',
      summary: `${plural(count, 'packet')} dropped as ${what} somewhere on the machine (${
        candidates.length ? candidates.map((x) => x.host).join(' or ') : 'no measured host'
      })`,
    },
  ];
}

/**
 * A host whose drops happen in an nftables table without per-rule counters (the real kube-proxy
 * in nftables mode): its inbound packets that were neither delivered, forwarded nor counted as
 * dropped elsewhere are what that table dropped. Its own per-namespace IP counters show them.
 */
function nftablesFinding(d: HostDelta): DropFinding | undefined {
  if (d.nftablesDropTable === undefined) return undefined;
  const n = unexplainedInbound(d);
  if (n <= 0) return undefined;
  const detail = `nftables table ${d.nftablesDropTable}: ${plural(n, 'inbound packet')} neither delivered nor forwarded (its rules count nothing: inferred from the namespace's IP counters)`;
  return {
    host: d.host,
    reason: 'rule',
    count: n,
    detail,
    scope: 'host',
    rule: { table: d.nftablesDropTable, chain: '', rule: '(nftables)' },
    summary: `${d.host} dropped ${plural(n, 'packet')} in nftables table ${d.nftablesDropTable} (inferred from its IP counters)`,
  };
}

export interface WhereDroppedOptions {
  /**
   * Leave out machine-wide findings that cannot be pinned on one measured host (MACHINE_HOST).
   * rt_cache is shared by every namespace on the machine, so other runs make such findings. Default false.
   */
  pinnedOnly?: boolean;
}

/**
 * Where packets were dropped: rp_filter (TcpExt.IPReversePathFilter), martian source/destination
 * (rt_cache, machine-wide: see martianFindings), DROP/REJECT rules and DROP policies whose
 * counters rose, and the fabric's source/destination check rules. Largest count first.
 */
export function whereDropped(deltas: readonly HostDelta[], opts: WhereDroppedOptions = {}): DropFinding[] {
  const out: DropFinding[] = [];
  for (const d of deltas) {
    const rp = deltaOf(d.counters, 'TcpExt.IPReversePathFilter');
    if (rp > 0) {
      out.push({
        host: d.host,
        reason: 'rp_filter',
        count: rp,
        detail: `TcpExt.IPReversePathFilter +${rp}`,
        scope: 'host',
        summary: `${d.host} dropped ${plural(rp, 'packet')} by the reverse-path filter (rp_filter)`,
      });
    }
    out.push(...ruleFindings(d));
    const nft = nftablesFinding(d);
    if (nft) out.push(nft);
  }
  const pinnedOnly = opts.pinnedOnly ?? false;
  out.push(...martianFindings(deltas, 'in_martian_src', 'martian-source', pinnedOnly));
  out.push(...martianFindings(deltas, 'in_martian_dst', 'martian-destination', pinnedOnly));
  return out.sort(
    (a, b) =>
      b.count - a.count ||
      a.host.localeCompare(b.host) ||
      REASON_ORDER.indexOf(a.reason) - REASON_ORDER.indexOf(b.reason) ||
      a.detail.localeCompare(b.detail),
  );
}

/** Every reset and drop finding as one line each: resets first, then drops. */
export function describeEvidence(deltas: readonly HostDelta[], opts: WhereDroppedOptions = {}): string[] {
  return [
    ...whoSentResets(deltas).map((r) => r.summary),
    ...whereDropped(deltas, opts).map((f) => f.summary),
  ];
}
