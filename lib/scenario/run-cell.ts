/**
 * Runs one cell on the built-in lab: realize its topology, start the servers, probe the flow
 * (sequentially for rate expectations), take counter and rule evidence on every namespace around
 * the probe, judge, tear down. Returns a CellResult; never asserts. Infrastructure failures
 * (bringing the lab up) are retried; the probed outcome never is.
 */
import pRetry from 'p-retry';
import type { CommandRunner } from '../exec/command.js';
import { measure, type HostDelta } from '../evidence/probe.js';
import { LabAgents } from '../lab/agents.js';
import { labContributors, labStages } from '../lab/contributors.js';
import { Lab } from '../lab/lab.js';
import type { PlanContributor } from '../lab/build-plan.js';
import { realCni, validateTopology, type Topology } from '../model/topology.js';
import { describeCni } from '../cni/index.js';
import { realCniNotes } from '../cni/real/notes.js';
import { CniStageError } from '../cni/real/stage.js';
import { EnvironmentError, ValidationError } from '../errors.js';
import { NlbControl } from '../nlb/control.js';
import { nlbContributor } from '../nlb/plan.js';
import { emulatedRun } from '../kube-proxy/implementation.js';
import { ComponentDiedError, whileRunning } from '../kube/component-process.js';
import type { KubeEnvironment, SlotLease } from '../kube/environment.js';
import type { ProxyMode } from '../kube-proxy/config.js';
import type { LabKube } from '../kube/lab-kube.js';
import type { KubernetesStage } from '../kube/stage.js';
import { WaitTimeoutError } from '../kube/wait.js';
import type { Attempt } from '../traffic/protocol.js';
import { decide, judge, tally, type Verdict } from '../verdict/index.js';
import type { Outcome } from '../traffic/outcome.js';
import {
  attemptsOf,
  cellTags,
  escapeRegExp,
  describeCellExpect,
  describeSource,
  type CellSpec,
} from './cell.js';
import {
  combine,
  evidenceCheck,
  findingsOf,
  outcomeCheck,
  rateSummaries,
  reasonOf,
  sourceCheck,
  sourcesSeen,
} from './checks.js';
import { resolveFlow, sourceAddresses, type ResolvedFlow } from './flow.js';
import { runChaos } from './run-chaos.js';
import type { CellResult, CheckResult, EvidenceFinding, Implementation } from './result.js';

export interface RunCellOptions {
  runner?: CommandRunner;
  contributors?: readonly PlanContributor[];
  /** Extra reproduce lines. */
  reproduce?: string[];
  /**
   * Saves the cell's topology document and returns the file's path: the result then says how to
   * bring the same lab up again (`returnpath lab up FILE --run-id ID`), which makes the probe's own
   * reproduce line (it names the run's namespaces) work as printed.
   */
  saveTopology?: (cell: CellSpec) => Promise<string>;
  /** Called with the live lab after the probe, before teardown (tests, `--keep` style inspection). */
  inspect?: (lab: Lab, kube?: LabKube) => Promise<void>;
  /**
   * Real Kubernetes: a cell whose topology has Services runs on a slot of this environment's
   * control plane, with the real kube-proxy in every node (instead of the emulated rules).
   */
  kube?: KubeEnvironment;
  /** The real kube-proxy's mode (default: the environment's). */
  kubeProxyMode?: ProxyMode;
  /** Flags the `returnpath run` reproduce line needs besides suite and grep (e.g. `--cni real`). */
  runFlags?: string;
}

const DEADLINE_MS = 250;

interface Probed {
  attempts: Attempt[];
  verdict: Verdict<Outcome>;
  reproduce: string;
}

async function probeFlow(agents: LabAgents, cell: CellSpec, flow: ResolvedFlow): Promise<Probed> {
  const agent = await agents.get(flow.client);
  const attempts: Attempt[] = [];
  let reproduce = '';
  const batch = async (n: number): Promise<Outcome[]> => {
    const per = Math.max(1, Math.ceil(n / flow.destinations.length));
    const results = await Promise.all(
      flow.destinations.map((d) =>
        agent.probe({
          kind: cell.flow.kind ?? 'tcp',
          host: d.address,
          port: d.port,
          attempts: per,
          deadlineMs: cell.flow.deadlineMs ?? DEADLINE_MS,
          concurrency: cell.flow.concurrency ?? 16,
          ...(cell.flow.localPortRange && { localPortRange: cell.flow.localPortRange }),
          ...(cell.flow.holdMs && { holdMs: cell.flow.holdMs, close: 'rst' as const }),
        }),
      ),
    );
    reproduce ||= results[0]!.reproduce;
    const got = results.flatMap((r) => r.attempts);
    attempts.push(...got);
    return got.map((a) => a.outcome);
  };
  const e = cell.expect.outcome;
  const n = attemptsOf(cell.flow);
  if (e.kind === 'rate') {
    const d = await decide(e, batch, { batch: n, cap: n * 5 });
    return { attempts, verdict: d.verdict, reproduce };
  }
  const outcomes = await batch(n);
  return { attempts, verdict: judge(e, tally(outcomes)), reproduce };
}

function checksOf(
  cell: CellSpec,
  topology: Topology,
  flow: ResolvedFlow,
  probed: Probed,
  deltas: readonly HostDelta[],
): CheckResult[] {
  const checks = [outcomeCheck(probed.verdict)];
  const seen = sourcesSeen(probed.attempts);
  const s = cell.expect.sourceSeen;
  if (s) checks.push(sourceCheck(seen, sourceAddresses(topology, flow, s), describeSource(s)));
  for (const e of cell.expect.evidence ?? []) checks.push(evidenceCheck(deltas, e));
  return checks;
}

function base(
  cell: CellSpec,
  startedAt: Date,
  runFlags = '',
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
    expectation: describeCellExpect(cell.expect, cell.chaos),
    flow: `${cell.flow.from} -> ${JSON.stringify(cell.flow.to)}`,
    attempts: 0,
    counts: {},
    rates: {},
    sourcesSeen: {},
    evidence: [],
    reproduce: [
      `returnpath run --suite ${cell.suite} --grep '${escapeRegExp(cell.id)}:'${runFlags ? ` ${runFlags}` : ''}`,
    ],
    startedAt: startedAt.toISOString(),
  };
}

/** Start a server on every endpoint pod; TCP servers answer both tcp and http probes' connect phase. */
/** Which implementation the cell's nodes ran with (for results and baseline comparisons). */
export function implementationOf(topology: Topology): Implementation {
  return { cni: [...new Set(topology.nodes.map((n) => describeCni(n.cni)))].join('; ') };
}

async function startServers(agents: LabAgents, cell: CellSpec, flow: ResolvedFlow): Promise<void> {
  const kind = cell.flow.kind ?? 'tcp';
  await Promise.all(
    flow.servers.map(async (s) =>
      (await agents.get(s.host)).startServer({ name: s.host, kind, port: s.port }),
    ),
  );
}

export async function runCell(cell: CellSpec, opts: RunCellOptions = {}): Promise<CellResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const result = base(cell, startedAt, opts.runFlags);
  result.reproduce.push(...(opts.reproduce ?? []));
  let lab: Lab | undefined;
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
    const topology = validateTopology(cell.topology, `${cell.suite}/${cell.id} topology`);
    const flow = resolveFlow(topology, cell.flow);
    result.flow = flow.label;
    result.implementation = implementationOf(topology);
    const real = opts.kube !== undefined && topology.services.length > 0;
    if (real) lease = await opts.kube!.lease();
    if (topology.services.length > 0)
      result.kubeProxy = real
        ? opts.kube!.run(topology.kubeProxy.detectLocal, opts.kubeProxyMode)
        : emulatedRun(topology.kubeProxy.detectLocal);
    let agents: LabAgents | undefined;
    let stage: KubernetesStage | undefined;
    lab = await pRetry(
      () => {
        stage = lease?.stage(opts.kubeProxyMode);
        return Lab.up(topology, {
          contributors: opts.contributors ?? (real ? [nlbContributor] : labContributors()),
          // The real CNI (if any) before real Kubernetes.
          stages: [...labStages(topology), ...(stage ? [stage] : [])],
          ...(opts.runner && { runner: opts.runner }),
          beforeProcesses: async (l) => {
            agents = new LabAgents(l);
            await startServers(agents, cell, flow);
          },
        });
      },
      // A dead component, a condition never met, bad input or a failing real CNI (it says why) are
      // not worth a retry.
      { retries: 2, minTimeout: 200, shouldRetry: ({ error }) => !notRetried(error) },
    );
    const kube = stage?.live;
    // Everything below fails at once (with the component's last log lines) if a real component dies.
    const guarded = <T>(work: Promise<T>): Promise<T> =>
      kube ? whileRunning(work, kube.components()) : work;
    await guarded(Promise.all(topology.loadBalancers.map((lb) => new NlbControl(lab!, lb.name).settled())));
    if (opts.saveTopology)
      result.reproduce.push(
        `returnpath lab up ${await opts.saveTopology(cell)} --run-id ${lab.runId}${kube ? ` --kubernetes${kube.mode === 'nftables' ? ' --kube-proxy-mode nftables' : ''}` : ''}`,
      );
    const hosts = lab.hosts.map((h) => lab!.host(h.id));
    const realNodes = new Set(topology.nodes.filter((n) => realCni(n.cni)).map((n) => `node/${n.name}`));
    const evidenceOpts = { rules: true, nft: (h: string) => realNodes.has(h) };
    const notes: EvidenceFinding[] = realNodes.size
      ? (await realCniNotes(lab, topology)).map((n) => ({ kind: 'note', ...n }))
      : [];
    const done = (
      checks: CheckResult[],
      outcomes: string[],
      deltas: readonly HostDelta[],
      extra: Partial<CellResult>,
    ): CellResult => {
      const t = tally(outcomes);
      return {
        ...result,
        flow: flow.label,
        status: combine(checks),
        reason: reasonOf(checks),
        checks,
        attempts: t.total,
        counts: { ...t.counts },
        rates: rateSummaries(t),
        evidence: [...notes, ...findingsOf(deltas)],
        ...extra,
        reproduce: [...result.reproduce, ...(extra.reproduce ?? [])],
        durationMs: Math.round(performance.now() - t0),
      };
    };
    if (cell.chaos) {
      const chaos = cell.chaos;
      const m = await guarded(
        measure(hosts, () => runChaos(lab!, agents!, chaos, flow, kube), {
          ...evidenceOpts,
          ...nftDrops(lab, kube),
        }),
      );
      await opts.inspect?.(lab, kube);
      const checks = [
        outcomeCheck(judge(cell.expect.outcome, tally(m.result.outcomes))),
        ...m.result.checks,
        ...(cell.expect.evidence ?? []).map((e) => evidenceCheck(m.deltas, e)),
      ];
      out = done(checks, m.result.outcomes, m.deltas, {
        reproduce: m.result.reproduce,
        timeline: m.result.timeline,
      });
    } else {
      const m = await guarded(
        measure(hosts, () => probeFlow(agents!, cell, flow), { ...evidenceOpts, ...nftDrops(lab, kube) }),
      );
      await opts.inspect?.(lab, kube);
      const checks = checksOf(cell, topology, flow, m.result, m.deltas);
      out = done(
        checks,
        m.result.attempts.map((a) => a.outcome),
        m.deltas,
        { sourcesSeen: sourcesSeen(m.result.attempts), reproduce: [m.result.reproduce] },
      );
    }
  } catch (e) {
    out = failed(e);
  }
  // Teardown: the lab (kube-proxies, the cell's Kubernetes objects, namespaces), then the slot.
  try {
    await lab?.down();
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
function nftDrops(lab: Lab, kube: LabKube | undefined): { nftablesDrops?: Map<string, string> } {
  if (kube?.mode !== 'nftables') return {};
  return {
    nftablesDrops: new Map(lab.hosts.filter((h) => h.kind === 'node').map((h) => [h.id, 'ip kube-proxy'])),
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
