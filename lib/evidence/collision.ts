/**
 * Evidence of seed 004's collision, from both ends: the NLB nodes' conntrack tables show one
 * 5-tuple (client address and port to one target) forwarded by two NLB nodes, and the target
 * answers the second SYN on an established connection with a challenge ACK (RFC 5961), which its
 * counters show (TcpExt.TCPSYNChallenge, TcpExt.TCPChallengeACK; TCPACKSkippedChallenge when the
 * kernel rate-limited them).
 */
import { formatConntrackEntry, type ConntrackEntry } from './conntrack.js';
import { increased } from './attribution.js';
import type { HostDelta } from './probe.js';

export interface CollisionFinding {
  /** `10.0.1.30:40012 -> 10.0.1.10:32411`, the target's side of the flow. */
  tuple: string;
  /** The NLB hosts that forwarded it. */
  hosts: string[];
  /** One entry per host, as conntrack printed it. */
  entries: string[];
}

/**
 * 5-tuples that several NLB nodes forwarded to the same target: entries on different hosts with
 * the same reply tuple (the target's address and port back to the client's address and port).
 * Without client IP preservation the reply goes to each NLB node's own address, so none match.
 */
export function nlbCollisions(
  tables: readonly { host: string; entries: readonly ConntrackEntry[] }[],
): CollisionFinding[] {
  const byTuple = new Map<string, { host: string; entry: ConntrackEntry }[]>();
  for (const t of tables)
    for (const e of t.entries) {
      if (e.proto !== 'tcp' || e.reply.sport === undefined) continue;
      const key = `${e.reply.dst}:${e.reply.dport} -> ${e.reply.src}:${e.reply.sport}`;
      const list = byTuple.get(key) ?? [];
      if (!list.some((x) => x.host === t.host)) list.push({ host: t.host, entry: e });
      byTuple.set(key, list);
    }
  return [...byTuple]
    .filter(([, list]) => list.length > 1)
    .map(([tuple, list]) => ({
      tuple,
      hosts: list.map((x) => x.host),
      entries: list.map((x) => `${x.host}: ${formatConntrackEntry(x.entry)}`),
    }))
    .sort((a, b) => a.tuple.localeCompare(b.tuple));
}

/** One line: how many 5-tuples collided, with a few examples. */
export function describeCollisions(found: readonly CollisionFinding[], max = 2): string {
  if (found.length === 0) return 'no 5-tuple reached a target through more than one NLB node';
  const ex = found
    .slice(0, max)
    .map((f) => `${f.tuple} via ${f.hosts.join(' and ')} (${f.entries.join('; ')})`);
  return `${found.length} 5-tuple${found.length === 1 ? '' : 's'} reached a target through more than one NLB node, e.g. ${ex.join(' | ')}`;
}

export const CHALLENGE_COUNTERS = [
  'TcpExt.TCPSYNChallenge',
  'TcpExt.TCPChallengeACK',
  'TcpExt.TCPACKSkippedChallenge',
] as const;

export interface ChallengeFinding {
  host: string;
  /** Counter (without TcpExt.) -> rise. */
  counters: Record<string, number>;
  summary: string;
}

/** Hosts that saw SYNs on established connections and answered (or skipped) challenge ACKs. */
export function challengeAcks(deltas: readonly HostDelta[]): ChallengeFinding[] {
  const hosts = new Set(CHALLENGE_COUNTERS.flatMap((c) => increased(deltas, c).map((r) => r.host)));
  return [...hosts].sort().map((host) => {
    const d = deltas.find((x) => x.host === host)!;
    const counters: Record<string, number> = {};
    for (const c of CHALLENGE_COUNTERS) {
      const v = d.counters[c] ?? 0;
      if (v > 0) counters[c.slice('TcpExt.'.length)] = v;
    }
    const list = Object.entries(counters).map(([k, v]) => `${k} +${v}`);
    return {
      host,
      counters,
      summary: `${host} got SYNs for connections it already had open and answered with challenge ACKs (${list.join(', ')})`,
    };
  });
}
