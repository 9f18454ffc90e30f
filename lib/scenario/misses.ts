/**
 * Evidence for each attempt that missed its expectation: what the attempt itself saw (outcome,
 * phase, errno, source port, how late its deadline fired), the conntrack entries of its 5-tuple on
 * every host of the lab (which NLB node took it, which target it was sent to, in what state it was
 * left), and what the NLB agents said about health around it. A cell whose "all connected" got
 * 23/24 then says which attempt failed and why, instead of only a count.
 */
import { mapLimit } from '../exec/command.js';
import type { HostExec } from '../exec/netns.js';
import { formatConntrackEntry, listConntrack, type ConntrackEntry } from '../evidence/conntrack.js';
import type { Expectation } from '../verdict/index.js';
import type { MissedAttempt } from './result.js';

/** At most this many missed attempts get their own evidence (the first ones). */
export const MAX_MISSES = 12;

/** An attempt as the runner saw it: what it did, where it went, when (epoch ms). */
export interface AttemptRecord {
  i: number;
  outcome: string;
  phase?: string;
  errno?: string;
  localAddress?: string;
  localPort?: number;
  /** The address and port connected to. */
  dest: { address: string; port: number };
  /** Epoch ms the attempt started. */
  startedAt: number;
  ms: number;
  stallMs?: number;
  /** What the server saw as the source, when it answered. */
  peer?: string;
}

/** Does this attempt's outcome contradict the expectation? (Rates are judged on the whole.) */
export function missesExpectation(e: Expectation, outcome: string): boolean {
  if (e.kind === 'all') return outcome !== e.outcome;
  if (e.kind === 'none') return outcome === e.outcome;
  return false;
}

/** A health line the NLB agents logged, epoch-stamped. */
export interface HealthLine {
  host: string;
  at: number;
  line: string;
}

export interface MissEvidenceOptions {
  /** Hosts whose conntrack tables are searched (every lab host). */
  hosts: readonly HostExec[];
  /** The client's own address, as it appears in conntrack tuples. */
  clientAddress: string;
  /** NLB health lines; those from 2 s before an attempt to its end are attached to it. */
  health?: readonly HealthLine[];
}

/** Conntrack entries that carry the attempt's source address and port, on either side. */
export function entriesOf(
  entries: readonly ConntrackEntry[],
  address: string,
  port: number,
): ConntrackEntry[] {
  const has = (t: ConntrackEntry['original']) =>
    (t.src === address && t.sport === port) || (t.dst === address && t.dport === port);
  return entries.filter((e) => e.proto === 'tcp' && (has(e.original) || has(e.reply)));
}

/** Evidence for the missed attempts (the first MAX_MISSES); one conntrack listing per host, only when something missed. */
export async function missEvidence(
  missed: readonly AttemptRecord[],
  opts: MissEvidenceOptions,
): Promise<MissedAttempt[]> {
  const first = missed.slice(0, MAX_MISSES);
  if (first.length === 0) return [];
  const tables = await mapLimit(opts.hosts, 6, async (h) => ({
    host: h.host,
    entries: await listConntrack(h).catch(() => [] as ConntrackEntry[]),
  }));
  return first.map((a) => {
    const evidence: string[] = [];
    if (a.stallMs !== undefined)
      evidence.push(
        `the client's deadline timer fired ${a.stallMs} ms late (the client process was not scheduled)`,
      );
    if (a.localPort !== undefined) {
      const address = a.localAddress ?? opts.clientAddress;
      for (const t of tables)
        for (const e of entriesOf(t.entries, address, a.localPort))
          evidence.push(`conntrack ${t.host}: ${formatConntrackEntry(e)}`);
    }
    for (const h of opts.health ?? [])
      if (h.at >= a.startedAt - 2000 && h.at <= a.startedAt + a.ms) evidence.push(`${h.host}: ${h.line}`);
    if (evidence.length === 0)
      evidence.push('no conntrack entry of its 5-tuple and no NLB health change around it');
    const m: MissedAttempt = {
      i: a.i,
      outcome: a.outcome,
      from: `${a.localAddress ?? opts.clientAddress}:${a.localPort ?? '?'}`,
      to: `${a.dest.address}:${a.dest.port}`,
      startedAt: new Date(a.startedAt).toISOString(),
      ms: a.ms,
      evidence,
    };
    if (a.phase) m.phase = a.phase;
    if (a.errno) m.errno = a.errno;
    if (a.peer) m.serverSaw = a.peer;
    return m;
  });
}

/** `#3 timeout (connect) 10.0.1.5:41234 -> 10.0.1.100:80 after 250 ms` */
export function describeMiss(m: MissedAttempt): string {
  const how = [m.phase, m.errno].filter(Boolean).join(', ');
  return `#${m.i} ${m.outcome}${how ? ` (${how})` : ''} ${m.from} -> ${m.to} after ${Math.round(m.ms)} ms`;
}
