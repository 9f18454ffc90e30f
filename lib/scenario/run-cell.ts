/**
 * Runs one cell on the built-in lab: bring its lab up (cell-lab.ts: servers, NLB agents settled on
 * the health the topology implies), probe the flow (in batches until decided for rate
 * expectations), take counter and rule evidence on every namespace around the probe, judge, tear
 * down. Returns a CellResult; never asserts. Every attempt that misses the expectation carries its
 * own evidence (misses.ts). Infrastructure failures (bringing the lab up) are retried; the probed
 * outcome never is.
 */
import pRetry from 'p-retry';
import type { CommandRunner } from '../exec/command.js';
import { measure, type HostDelta } from '../evidence/probe.js';
import { listConntrack } from '../evidence/conntrack.js';
import { nlbCollisions, type CollisionFinding } from '../evidence/collision.js';
import type { LabAgents } from '../lab/agents.js';
import type { PlanContributor } from '../lab/build-plan.js';
import type { Lab } from '../lab/lab.js';
import type { Topology } from '../model/topology.js';
import { NlbControl } from '../nlb/control.js';
import { decide, judge, tally, type Verdict } from '../verdict/index.js';
import type { Outcome } from '../traffic/outcome.js';
import {
  attemptsOf,
  cellTags,
  describeCellExpect,
  describeSource,
  mechanismOf,
  type CellSpec,
  type ChaosBounds,
} from './cell.js';
import { partition } from '../chaos/summary.js';
import { cellLabUp, type CellLab } from './cell-lab.js';
import {
  combine,
  evidenceCheck,
  type ExtraEvidence,
  findingsOf,
  hostMatches,
  outcomeCheck,
  peerAddress,
  rateSummaries,
  reasonOf,
  sourceCheck,
  sourcesSeen,
} from './checks.js';
import { RATE_CAP_BATCHES } from './derive.js';
import { sourceAddresses, type ResolvedFlow } from './flow.js';
import { missEvidence, missesExpectation, type AttemptRecord, type HealthLine } from './misses.js';
import { reproduceLines, type CellSource } from './reproduce.js';
import { runChaos } from './run-chaos.js';
import type { CellResult, CheckResult, EvidenceFinding } from './result.js';

export interface RunCellOptions {
  runner?: CommandRunner;
  contributors?: readonly PlanContributor[];
  /**
   * Where the cell comes from, for its reproduce lines: a built-in suite (default) or a suite file
   * (`returnpath lab up --file F --cell S/ID`).
   */
  source?: CellSource;
  /** Called with the live lab after the probe, before teardown (tests, `--keep` style inspection). */
  inspect?: (lab: Lab) => Promise<void>;
}

export const DEADLINE_MS = 250;

interface Probed {
  attempts: AttemptRecord[];
  verdict: Verdict<Outcome>;
}

async function probeFlow(agents: LabAgents, cell: CellSpec, flow: ResolvedFlow): Promise<Probed> {
  const agent = await agents.get(flow.client);
  const attempts: AttemptRecord[] = [];
  let batches = 0;
  const batch = async (n: number): Promise<Outcome[]> => {
    const per = Math.max(1, Math.ceil(n / flow.destinations.length));
    // Fixed source ports: each batch takes the next range of the same width, so that a rate is
    // judged on fresh 5-tuples (with the same ports a hashing NLB would repeat its choices).
    const range = cell.flow.localPortRange;
    const shift = range ? (range[1] - range[0] + 1) * batches++ : 0;
    const results = await Promise.all(
      flow.destinations.map((d) =>
        agent.probe({
          kind: cell.flow.kind ?? 'tcp',
          host: d.address,
          port: d.port,
          attempts: per,
          deadlineMs: cell.flow.deadlineMs ?? DEADLINE_MS,
          concurrency: cell.flow.concurrency ?? 16,
          ...(range && { localPortRange: [range[0] + shift, range[1] + shift] as const }),
          ...(cell.flow.holdMs && { holdMs: cell.flow.holdMs, close: 'rst' as const }),
        }),
      ),
    );
    const got = results.flatMap((r, k) =>
      r.attempts.map((a): AttemptRecord => {
        const rec: AttemptRecord = {
          i: a.i,
          outcome: a.outcome,
          phase: a.phase,
          dest: flow.destinations[k]!,
          startedAt: r.startedAt + a.startMs,
          ms: a.ms,
        };
        if (a.errno) rec.errno = a.errno;
        if (a.localAddress) rec.localAddress = a.localAddress;
        if (a.localPort !== undefined) rec.localPort = a.localPort;
        if (a.stallMs !== undefined) rec.stallMs = a.stallMs;
        if (a.peer) rec.peer = a.peer;
        return rec;
      }),
    );
    attempts.push(...got);
    return got.map((a) => a.outcome as Outcome);
  };
  const e = cell.expect.outcome!;
  const n = attemptsOf(cell.flow);
  if (e.kind === 'rate') {
    const d = await decide(e, batch, { batch: n, cap: n * RATE_CAP_BATCHES });
    return { attempts, verdict: d.verdict };
  }
  const outcomes = await batch(n);
  return { attempts, verdict: judge(e, tally(outcomes)) };
}

function base(
  cell: CellSpec,
  startedAt: Date,
): Omit<CellResult, 'status' | 'reason' | 'checks' | 'durationMs'> {
  return {
    suite: cell.suite,
    id: cell.id,
    title: cell.title,
    tags: cellTags(cell),
    seeds: cell.seeds,
    configuration: cell.configuration,
    pathWorks: cell.pathWorks,
    explanation: cell.explanation,
    ...(mechanismOf(cell) && { mechanism: mechanismOf(cell) }),
    expectation: describeCellExpect(cell.expect, cell.chaos),
    flow: `${cell.flow.from} -> ${JSON.stringify(cell.flow.to)}`,
    attempts: 0,
    counts: {},
    rates: {},
    sourcesSeen: {},
    evidence: [],
    reproduce: [],
    startedAt: startedAt.toISOString(),
  };
}

/** A probe that holds its connections closes them with a reset: say so on the client's reset finding. */
function ownResets(cell: CellSpec, flow: ResolvedFlow, findings: EvidenceFinding[]): EvidenceFinding[] {
  if (!cell.flow.holdMs) return findings;
  return findings.map((f) =>
    f.kind === 'reset' && hostMatches(f.host, flow.client)
      ? { ...f, summary: `${f.summary} (the probe closes every connection it held with a reset)` }
      : f,
  );
}

/** NLB health as evidence: a node that did not settle, and every health change while probing. */
function healthFindings(
  cl: CellLab,
  from: number,
  to: number,
): { findings: EvidenceFinding[]; lines: HealthLine[] } {
  const findings: EvidenceFinding[] = [];
  for (const s of cl.settled)
    if (!s.result.reached)
      findings.push({
        kind: 'health',
        host: `nlb/${s.nlb}`,
        summary: `did not reach the health the topology implies after ${s.result.rounds} rounds: ${s.result.mismatches.join('; ')}`,
      });
  const lines = cl.topology.loadBalancers.flatMap((lb) => NlbControl.of(cl.lab, lb.name).healthLog(from, to));
  for (const l of lines) findings.push({ kind: 'health', host: l.host, summary: l.line });
  return { findings, lines };
}

export async function runCell(cell: CellSpec, opts: RunCellOptions = {}): Promise<CellResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const result = base(cell, startedAt);
  let cl: CellLab | undefined;
  try {
    cl = await pRetry(
      () =>
        cellLabUp(cell, {
          ...(opts.runner && { runner: opts.runner }),
          ...(opts.contributors && { contributors: opts.contributors }),
        }),
      { retries: 2, minTimeout: 200 },
    );
    const { lab, topology, flow, agents } = cl;
    result.flow = flow.label;
    result.reproduce = reproduceLines(cell, flow, lab.runId, opts.source ?? { kind: 'builtin' });
    const hosts = lab.hosts.map((h) => lab.host(h.id));
    const probeFrom = Date.now();
    const done = (
      checks: CheckResult[],
      outcomes: string[],
      deltas: readonly HostDelta[],
      extra: Partial<CellResult>,
      more: ExtraEvidence = {},
    ): CellResult => {
      const t = tally(outcomes);
      const health = healthFindings(cl!, probeFrom, Date.now());
      return {
        ...result,
        status: combine(checks),
        reason: reasonOf(checks),
        checks,
        attempts: t.total,
        counts: { ...t.counts },
        rates: rateSummaries(t),
        evidence: [...ownResets(cell, flow, findingsOf(deltas, more)), ...health.findings],
        ...extra,
        reproduce: [...result.reproduce, ...(extra.reproduce ?? [])],
        durationMs: Math.round(performance.now() - t0),
      };
    };
    if (cell.chaos) {
      const chaos = cell.chaos;
      const m = await measure(hosts, () => runChaos(lab, agents, chaos, flow), { rules: true });
      await opts.inspect?.(lab);
      const checks = [
        ...(cell.expect.outcome ? [outcomeCheck(judge(cell.expect.outcome, tally(m.result.outcomes)))] : []),
        ...m.result.checks,
        ...(cell.expect.evidence ?? []).map((e) => evidenceCheck(m.deltas, e)),
      ];
      const r = done(checks, m.result.outcomes, m.deltas, {
        reproduce: m.result.reproduce,
        timeline: m.result.timeline,
      });
      const misses = await chaosMisses(cl, chaos.bounds, m.result.timeline, probeFrom);
      return misses.length ? { ...r, misses } : r;
    }
    const m = await measure(hosts, () => probeFlow(agents, cell, flow), { rules: true });
    const more = { collisions: await collisionsOf(cl) };
    await opts.inspect?.(lab);
    const checks = checksOf(cell, topology, flow, m.result, m.deltas, more);
    const r = done(
      checks,
      m.result.attempts.map((a) => a.outcome),
      m.deltas,
      {
        sourcesSeen: sourcesSeen(
          m.result.attempts.map((a) => ({ outcome: a.outcome as Outcome, peer: a.peer })),
        ),
      },
      more,
    );
    const misses = await conformanceMisses(cl, cell, topology, flow, m.result.attempts, probeFrom);
    return misses.length ? { ...r, misses } : r;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return {
      ...result,
      status: 'error',
      reason: message.split('\n')[0]!,
      checks: [],
      error: message,
      durationMs: Math.round(performance.now() - t0),
    };
  } finally {
    await cl?.lab.down();
  }
}

function checksOf(
  cell: CellSpec,
  topology: Topology,
  flow: ResolvedFlow,
  probed: Probed,
  deltas: readonly HostDelta[],
  more: ExtraEvidence,
): CheckResult[] {
  const checks = [outcomeCheck(probed.verdict)];
  const s = cell.expect.sourceSeen;
  if (s) {
    const seen = sourcesSeen(probed.attempts.map((a) => ({ outcome: a.outcome as Outcome, peer: a.peer })));
    checks.push(sourceCheck(seen, sourceAddresses(topology, flow, s), describeSource(s)));
  }
  for (const e of cell.expect.evidence ?? []) checks.push(evidenceCheck(deltas, e, more));
  return checks;
}

/**
 * For a flow through several nodes of one NLB: the 5-tuples two of them forwarded to the same
 * target, from their conntrack tables right after the probe (seed 004's collision, seen at the NLB).
 */
async function collisionsOf(cl: CellLab): Promise<Map<string, CollisionFinding[]>> {
  const out = new Map<string, CollisionFinding[]>();
  const hosts = cl.flow.nlbHosts ?? [];
  const to = cl.flow.to;
  if (hosts.length < 2 || !('nlb' in to)) return out;
  const tables = await Promise.all(
    hosts.map(async (h) => ({ host: h, entries: await listConntrack(cl.lab.host(h)) })),
  );
  out.set(to.nlb, nlbCollisions(tables));
  return out;
}

/** Attempts against the outcome expectation, or connected ones whose server saw the wrong source. */
async function conformanceMisses(
  cl: CellLab,
  cell: CellSpec,
  topology: Topology,
  flow: ResolvedFlow,
  attempts: readonly AttemptRecord[],
  from: number,
): Promise<NonNullable<CellResult['misses']>> {
  const e = cell.expect.outcome!;
  const accepted = cell.expect.sourceSeen
    ? sourceAddresses(topology, flow, cell.expect.sourceSeen)
    : undefined;
  const missed = attempts.filter(
    (a) =>
      missesExpectation(e, a.outcome) ||
      (accepted !== undefined && a.outcome === 'connected' && !accepted.includes(peerAddress(a.peer) ?? '')),
  );
  return missEvidence(missed, {
    hosts: cl.lab.hosts.map((h) => cl.lab.host(h.id)),
    clientAddress: flow.clientAddress,
    health: healthFindings(cl, from - 5000, Date.now()).lines,
  });
}

/** Chaos: failures where the bounds say none happen (outside the faults, after revert, under a harmless fault). */
async function chaosMisses(
  cl: CellLab,
  bounds: ChaosBounds,
  timeline: NonNullable<CellResult['timeline']>,
  from: number,
): Promise<NonNullable<CellResult['misses']>> {
  const t0 = timeline.startedAt ?? from;
  const p = partition(timeline.samples, timeline.windows);
  const none = [
    ...((bounds.outside ?? 'none') === 'none' ? p.outside : []),
    ...(bounds.inside === 'none' ? p.underFault : []),
    ...((bounds.recovers ?? true) ? p.afterRevert : []),
  ];
  const missed = [...new Set(none)]
    .filter((s) => s.outcome !== 'connected')
    .sort((a, b) => a.t - b.t)
    .map((s, i): AttemptRecord => ({
      i,
      outcome: s.outcome,
      ...(s.phase && { phase: s.phase }),
      ...(s.errno && { errno: s.errno }),
      ...(s.port !== undefined && { localPort: s.port }),
      ...(s.stallMs !== undefined && { stallMs: s.stallMs }),
      dest: cl.flow.destinations[0]!,
      startedAt: t0 + s.t,
      ms: s.ms,
    }));
  return missEvidence(missed, {
    hosts: cl.lab.hosts.map((h) => cl.lab.host(h.id)),
    clientAddress: cl.flow.clientAddress,
    health: healthFindings(cl, from - 5000, Date.now()).lines,
  });
}
