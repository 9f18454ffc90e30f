/**
 * Pure judgement of a cell's measurement: the outcome verdict, the source address the servers saw,
 * and the evidence the expectation names. Returns check results; the suites assert on them.
 */
import { increased, whereDropped, whoSentResets } from '../evidence/attribution.js';
import { challengeAcks, describeCollisions, type CollisionFinding } from '../evidence/collision.js';
import type { HostDelta } from '../evidence/probe.js';
import type { Attempt } from '../traffic/protocol.js';
import { wilson, type Tally, type Verdict } from '../verdict/index.js';
import { describeEvidenceExpectation, type EvidenceExpectation } from './cell.js';
import type { CellStatus, CheckResult, EvidenceFinding, RateSummary } from './result.js';

/** `node-1` matches the host id `node/node-1`; an id matches itself. */
export function hostMatches(id: string, ref: string): boolean {
  return id === ref || id.split('/').slice(1).join('/') === ref;
}

/** The IP of a `peer` the server reported (`::ffff:10.0.0.1:5555` → `10.0.0.1`). */
export function peerAddress(peer: string | undefined): string | undefined {
  return peer?.replace(/^::ffff:/, '').replace(/:\d+$/, '');
}

export function outcomeCheck(v: Verdict): CheckResult {
  return { name: 'outcome', status: v.status, detail: v.reason };
}

export function sourcesSeen(attempts: readonly Pick<Attempt, 'outcome' | 'peer'>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of attempts) {
    const ip = a.outcome === 'connected' ? peerAddress(a.peer) : undefined;
    if (ip) out[ip] = (out[ip] ?? 0) + 1;
  }
  return out;
}

/** Every connected attempt's server saw one of `accepted`; inconclusive when nothing connected. */
export function sourceCheck(
  seen: Readonly<Record<string, number>>,
  accepted: readonly string[],
  what: string,
): CheckResult {
  const name = `source seen: ${what}`;
  const total = Object.values(seen).reduce((s, n) => s + n, 0);
  if (total === 0) return { name, status: 'inconclusive', detail: 'no connection reached a server' };
  const wrong = Object.entries(seen).filter(([ip]) => !accepted.includes(ip));
  const list = Object.entries(seen)
    .map(([ip, n]) => `${ip} ×${n}`)
    .join(', ');
  if (wrong.length === 0) return { name, status: 'pass', detail: `saw ${list}` };
  return { name, status: 'fail', detail: `expected ${accepted.join(' or ')}, saw ${list}` };
}

/** What the cell runner found beyond counter deltas, for the evidence checks that need it. */
export interface ExtraEvidence {
  /** 5-tuples several NLB nodes forwarded to one target, per NLB name. */
  collisions?: ReadonlyMap<string, readonly CollisionFinding[]>;
}

export function evidenceCheck(
  deltas: readonly HostDelta[],
  e: EvidenceExpectation,
  extra: ExtraEvidence = {},
): CheckResult {
  const name = `evidence: ${describeEvidenceExpectation(e)}`;
  if (e.kind === 'counter-rose') {
    const rose = increased(deltas, e.counter).filter(
      (r) => !e.hosts || e.hosts.some((h) => hostMatches(r.host, h)),
    );
    return rose.length > 0
      ? { name, status: 'pass', detail: rose.map((r) => `${r.host}: ${e.counter} +${r.count}`).join('; ') }
      : { name, status: 'fail', detail: `${e.counter} did not rise on ${e.hosts?.join(', ') ?? 'any host'}` };
  }
  if (e.kind === 'nlb-collision') {
    const found = extra.collisions?.get(e.nlb) ?? [];
    return { name, status: found.length > 0 ? 'pass' : 'fail', detail: describeCollisions(found) };
  }
  if (e.kind === 'resets-from') {
    const found = whoSentResets(deltas).filter((r) => hostMatches(r.host, e.host));
    const n = found.reduce((s, r) => s + r.count, 0);
    return n > 0
      ? { name, status: 'pass', detail: found.map((r) => r.summary).join('; ') }
      : { name, status: 'fail', detail: `${e.host} sent no resets` };
  }
  const eni = e.kind === 'drop' ? e.eni : undefined;
  const drops = whereDropped(deltas, { pinnedOnly: true }).filter(
    (f) =>
      hostMatches(f.host, e.host) &&
      f.reason === e.reason &&
      (eni === undefined || f.detail.startsWith(`${eni}:`)),
  );
  const n = drops.reduce((s, f) => s + f.count, 0);
  if (e.kind === 'no-drop')
    return n === 0
      ? { name, status: 'pass', detail: `no ${e.reason} drop counted on ${e.host}` }
      : { name, status: 'fail', detail: drops.map((f) => f.summary).join('; ') };
  return n > 0
    ? { name, status: 'pass', detail: drops.map((f) => f.summary).join('; ') }
    : {
        name,
        status: 'fail',
        detail: `no ${e.reason} drop counted on ${e.host}${eni ? ` (${eni})` : ''}`,
      };
}

/** fail if any check failed, else inconclusive if any is, else pass. */
export function combine(checks: readonly CheckResult[]): CellStatus {
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  if (checks.some((c) => c.status === 'inconclusive')) return 'inconclusive';
  return 'pass';
}

/** The first failing (or inconclusive) check's detail, or the outcome's. */
export function reasonOf(checks: readonly CheckResult[]): string {
  const bad = checks.find((c) => c.status === 'fail') ?? checks.find((c) => c.status === 'inconclusive');
  const c = bad ?? checks[0];
  return c ? (bad ? `${c.name}: ${c.detail}` : c.detail) : 'no checks';
}

export function rateSummaries(t: Tally): Record<string, RateSummary> {
  const out: Record<string, RateSummary> = {};
  for (const [outcome, count] of Object.entries(t.counts)) {
    if (count === 0) continue;
    const i = wilson(count, t.total);
    out[outcome] = { count, rate: count / t.total, low: i.low, high: i.high };
  }
  return out;
}

/** Resets, drops, challenge ACKs and NLB collisions, as findings kept with the result. */
export function findingsOf(deltas: readonly HostDelta[], extra: ExtraEvidence = {}): EvidenceFinding[] {
  return [
    ...challengeAcks(deltas).map((c): EvidenceFinding => ({
      kind: 'counter',
      host: c.host,
      summary: c.summary,
      count: Object.values(c.counters).reduce((a, b) => a + b, 0),
    })),
    ...[...(extra.collisions ?? new Map<string, readonly CollisionFinding[]>())]
      .filter(([, found]) => found.length > 0)
      .map(([nlb, found]): EvidenceFinding => ({
        kind: 'conntrack',
        host: `nlb/${nlb}`,
        summary: describeCollisions(found),
        count: found.length,
      })),
    // nftables counters that rose (read on real-CNI nodes only: the VPC CNI's connmark table).
    ...deltas.flatMap((d) =>
      d.rules.rules
        .filter((r) => r.table.startsWith('nft '))
        .map((r): EvidenceFinding => ({
          kind: 'counter',
          host: d.host,
          summary: `${r.table.slice(4)} ${r.chain}#${r.index} "${r.rule}" matched ${r.packets} packet(s)`,
          count: r.packets,
        })),
    ),
    ...whoSentResets(deltas).map((r): EvidenceFinding => ({
      kind: 'reset',
      host: r.host,
      summary: r.summary,
      count: r.count,
    })),
    ...whereDropped(deltas, { pinnedOnly: true }).map((f): EvidenceFinding => ({
      kind: 'drop',
      host: f.host,
      summary: f.summary,
      count: f.count,
      reason: f.reason,
    })),
  ];
}
