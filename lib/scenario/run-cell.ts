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
import type { HostExec } from '../exec/netns.js';
import { measure, type HostDelta } from '../evidence/probe.js';
import { listConntrack } from '../evidence/conntrack.js';
import { nlbCollisions, type CollisionFinding } from '../evidence/collision.js';
import type { TrafficAgent } from '../traffic/agent.js';
import type { PlanContributor } from '../lab/build-plan.js';
import type { Lab } from '../lab/lab.js';
import { realCni, type Topology } from '../model/topology.js';
import { describeCni } from '../cni/index.js';
import { realCniNotes } from '../cni/real/notes.js';
import { CniStageError } from '../cni/real/stage.js';
import { EnvironmentError, ValidationError } from '../errors.js';
import { NlbControl } from '../nlb/control.js';
import { emulatedRun } from '../kube-proxy/implementation.js';
import { ComponentDiedError } from '../kube/component-process.js';
import type { KubeEnvironment, SlotLease } from '../kube/environment.js';
import type { ProxyMode } from '../kube-proxy/config.js';
import type { LabKube } from '../kube/lab-kube.js';
import type { KubernetesStage } from '../kube/stage.js';
import { WaitTimeoutError } from '../kube/wait.js';
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
import { cellLabUp, cellPlan, type CellLab } from './cell-lab.js';
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
import { reproduceLines, runLine, type CellSource, type ReproduceFlags } from './reproduce.js';
import { runChaos } from './run-chaos.js';
import type { CellResult, CheckResult, EvidenceFinding, Implementation } from './result.js';

export interface RunCellOptions {
  runner?: CommandRunner;
  contributors?: readonly PlanContributor[];
  /**
   * Where the cell comes from, for its reproduce lines: a built-in suite (default) or a suite file
   * (`returnpath lab up --file F --cell S/ID`).
   */
  source?: CellSource;
  /** Called with the live lab once it is up and settled, just before the probe (tests). */
  beforeProbe?: (lab: Lab, kube?: LabKube) => Promise<void>;
  /** Called with the live lab after the probe, before teardown (tests, `--keep` style inspection). */
  inspect?: (lab: Lab, kube?: LabKube) => Promise<void>;
  /**
   * Real Kubernetes: a cell whose topology has Services runs on a slot of this environment's
   * control plane, with the real kube-proxy in every node (instead of the emulated rules).
   */
  kube?: KubeEnvironment;
  /** The real kube-proxy's mode (default: the environment's). */
  kubeProxyMode?: ProxyMode;
  /** The VPC CNI flags the reproduce lines repeat (`--cni real`, `--cni-bin DIR`). */
  cniFlags?: readonly string[];
}

export const DEADLINE_MS = 250;

export interface Probed {
  attempts: AttemptRecord[];
  verdict: Verdict<Outcome>;
}

/** Where a flow's client agent comes from: the lab's namespaces, or a cluster's pods. */
export interface AgentSource {
  get(hostRef: string): Promise<TrafficAgent>;
}

export async function probeFlow(agents: AgentSource, cell: CellSpec, flow: ResolvedFlow): Promise<Probed> {
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

export function base(
  cell: CellSpec,
  startedAt: Date,
  source: CellSource,
  flags: ReproduceFlags,
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
    // A cell that ends in an error before its lab is up still says how to run it again.
    reproduce: [runLine(cell, source, flags)],
    startedAt: startedAt.toISOString(),
  };
}

/** A probe that holds its connections closes them with a reset: say so on the client's reset finding. */
export function ownResets(
  cell: CellSpec,
  flow: ResolvedFlow,
  findings: EvidenceFinding[],
): EvidenceFinding[] {
  if (!cell.flow.holdMs) return findings;
  return findings.map((f) =>
    f.kind === 'reset' && hostMatches(f.host, flow.client)
      ? { ...f, summary: `${f.summary} (the probe closes every connection it held with a reset)` }
      : f,
  );
}

/** What a lab run and a cluster run judge alike: status and reason from the checks, the tallies, the flow's evidence. */
export function judged(
  cell: CellSpec,
  flow: ResolvedFlow,
  checks: CheckResult[],
  outcomes: readonly string[],
  deltas: readonly HostDelta[],
  more: ExtraEvidence = {},
): Pick<CellResult, 'status' | 'reason' | 'checks' | 'attempts' | 'counts' | 'rates' | 'evidence'> {
  const t = tally(outcomes);
  return {
    status: combine(checks),
    reason: reasonOf(checks),
    checks,
    attempts: t.total,
    counts: { ...t.counts },
    rates: rateSummaries(t),
    evidence: ownResets(cell, flow, findingsOf(deltas, more)),
  };
}

/** Which implementation the cell's nodes ran with (for results and baseline comparisons). */
export function implementationOf(topology: Topology): Implementation {
  return { cni: [...new Set(topology.nodes.map((n) => describeCni(n.cni)))].join('; ') };
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
  const source = opts.source ?? { kind: 'builtin' };
  const flags: ReproduceFlags = { ...(opts.cniFlags && { cni: opts.cniFlags }) };
  const result = base(cell, startedAt, source, flags);
  let cl: CellLab | undefined;
  let lease: SlotLease | undefined;
  let out: CellResult;
  const failed = (e: unknown): CellResult => {
    const message = e instanceof Error ? e.message : String(e);
    return {
      ...result,
      status: 'error',
      reason: message.split('\n')[0]!,
      checks: [],
      error: message,
      durationMs: Math.round(performance.now() - t0),
    };
  };
  try {
    const plan = cellPlan(cell);
    result.flow = plan.flow.label;
    result.implementation = implementationOf(plan.topology);
    const real = opts.kube !== undefined && plan.topology.services.length > 0;
    if (real) lease = await opts.kube!.lease();
    if (plan.topology.services.length > 0)
      result.kubeProxy = real
        ? opts.kube!.run(plan.topology.kubeProxy.detectLocal, opts.kubeProxyMode)
        : emulatedRun(plan.topology.kubeProxy.detectLocal);
    let stage: KubernetesStage | undefined;
    cl = await pRetry(
      () => {
        stage = lease?.stage(opts.kubeProxyMode);
        return cellLabUp(cell, {
          ...(opts.runner && { runner: opts.runner }),
          ...(opts.contributors && { contributors: opts.contributors }),
          ...(stage && { kubeStage: stage }),
        });
      },
      // A dead component, a condition never met, bad input or a failing real CNI (it says why) are
      // not worth a retry.
      { retries: 2, minTimeout: 200, shouldRetry: ({ error }) => !notRetried(error) },
    );
    const { lab, topology, flow, agents, kube, guarded } = cl;
    if (kube) flags.kubeProxyMode = kube.mode;
    result.reproduce = reproduceLines(cell, flow, lab.runId, source, flags);
    await opts.beforeProbe?.(lab, kube);
    const hosts = lab.hosts.map((h) => lab.host(h.id));
    const realNodes = new Set(topology.nodes.filter((n) => realCni(n.cni)).map((n) => `node/${n.name}`));
    const evidenceOpts = {
      rules: true,
      nft: (h: string) => realNodes.has(h),
      ...nftDrops(lab.hosts, kube?.mode),
    };
    const notes: EvidenceFinding[] = realNodes.size
      ? (await realCniNotes(lab, topology)).map((n) => ({ kind: 'note', ...n }))
      : [];
    const probeFrom = Date.now();
    const done = (
      checks: CheckResult[],
      outcomes: string[],
      deltas: readonly HostDelta[],
      extra: Partial<CellResult>,
      more: ExtraEvidence = {},
    ): CellResult => {
      const j = judged(cell, flow, checks, outcomes, deltas, more);
      const health = healthFindings(cl!, probeFrom, Date.now());
      return {
        ...result,
        ...j,
        evidence: [...notes, ...j.evidence, ...health.findings],
        ...extra,
        reproduce: [...result.reproduce, ...(extra.reproduce ?? [])],
        durationMs: Math.round(performance.now() - t0),
      };
    };
    if (cell.chaos) {
      const chaos = cell.chaos;
      const m = await guarded(measure(hosts, () => runChaos(lab, agents, chaos, flow, kube), evidenceOpts));
      await opts.inspect?.(lab, kube);
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
      out = misses.length ? { ...r, misses } : r;
    } else {
      const m = await guarded(measure(hosts, () => probeFlow(agents, cell, flow), evidenceOpts));
      const more = { collisions: await collisionsOf(cl.flow, (h) => cl!.lab.host(h)) };
      await opts.inspect?.(lab, kube);
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
      out = misses.length ? { ...r, misses } : r;
    }
  } catch (e) {
    out = failed(e);
  }
  // Teardown: the lab (kube-proxies, the cell's Kubernetes objects, namespaces), then the slot.
  try {
    await cl?.lab.down();
  } catch (e) {
    const message = `teardown: ${e instanceof Error ? e.message : String(e)}`;
    out =
      out.status === 'error'
        ? { ...out, error: `${out.error}\n${message}` }
        : { ...failed(new Error(message)), ...pick(out) };
  } finally {
    lease?.release();
  }
  return out;
}

/** The real kube-proxy in nftables mode drops in `ip kube-proxy`, whose rules count nothing. */
export function nftDrops(
  hosts: readonly { id: string; kind: string }[],
  mode: ProxyMode | undefined,
): { nftablesDrops?: Map<string, string> } {
  if (mode !== 'nftables') return {};
  return {
    nftablesDrops: new Map(hosts.filter((h) => h.kind === 'node').map((h) => [h.id, 'ip kube-proxy'])),
  };
}

/** What a finished measurement keeps when its teardown fails afterwards. */
function pick(r: CellResult): Partial<CellResult> {
  return { attempts: r.attempts, counts: r.counts, rates: r.rates, checks: r.checks, evidence: r.evidence };
}

function notRetried(e: unknown): boolean {
  return (
    e instanceof ComponentDiedError ||
    e instanceof WaitTimeoutError ||
    e instanceof CniStageError ||
    e instanceof ValidationError ||
    e instanceof EnvironmentError
  );
}

export function checksOf(
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
export async function collisionsOf(
  flow: ResolvedFlow,
  host: (id: string) => HostExec,
): Promise<Map<string, CollisionFinding[]>> {
  const out = new Map<string, CollisionFinding[]>();
  const hosts = flow.nlbHosts ?? [];
  const to = flow.to;
  if (hosts.length < 2 || !('nlb' in to)) return out;
  const tables = await Promise.all(
    hosts.map(async (h) => ({ host: h, entries: await listConntrack(host(h)) })),
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
