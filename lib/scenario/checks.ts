/**
 * Pure judgement of a cell's measurement: the outcome verdict, the source address the servers saw,
 * and the evidence the expectation names. Returns check results; the suites assert on them.
 */
import { whereDropped, whoSentResets } from '../evidence/attribution.js';
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

export function sourcesSeen(attempts: readonly Attempt[]): Record<string, number> {
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

export function evidenceCheck(deltas: readonly HostDelta[], e: EvidenceExpectation): CheckResult {
  const name = `evidence: ${describeEvidenceExpectation(e)}`;
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

/** Resets and drops, as findings kept with the result. */
export function findingsOf(deltas: readonly HostDelta[]): EvidenceFinding[] {
  return [
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
