/**
 * A cell's lab, running: its topology realized, a server on every endpoint started before the NLB
 * agents' first health round, and every NLB node settled on the health the topology implies. The
 * cell runner probes it and tears it down; `returnpath lab up --cell` leaves it up (servers as
 * processes of their own) so that the cell's reproduce lines work until `lab down`.
 */
import type { CommandRunner } from '../exec/command.js';
import { whileRunning } from '../kube/component-process.js';
import type { LabKube } from '../kube/lab-kube.js';
import type { KubernetesStage } from '../kube/stage.js';
import { LabAgents } from '../lab/agents.js';
import { labContributors, labStages } from '../lab/contributors.js';
import type { PlanContributor } from '../lab/build-plan.js';
import { Lab } from '../lab/lab.js';
import { validateTopology, type Topology } from '../model/topology.js';
import { NlbControl, type SettleResult } from '../nlb/control.js';
import { nlbContributor } from '../nlb/plan.js';
import { SERVE_READY } from '../traffic/serve-cli.js';
import type { CellSpec } from './cell.js';
import { expectedHealth } from './derive.js';
import { resolveFlow, type ResolvedFlow } from './flow.js';

export interface CellLabOptions {
  runner?: CommandRunner;
  contributors?: readonly PlanContributor[];
  runId?: string;
  /** Leave it up when this process exits: servers run as processes of their own. */
  persistent?: boolean;
  log?: (line: string) => void;
  /**
   * Real Kubernetes: the stage that registers the cell's objects with a control plane and starts
   * the real kube-proxy in every node (after the real CNI, if any). Its Services' rules then come
   * from it, not from the emulated kube-proxy.
   */
  kubeStage?: KubernetesStage;
}

export interface CellLab {
  lab: Lab;
  topology: Topology;
  flow: ResolvedFlow;
  /** Traffic agents of the lab's hosts (the servers run in them unless the lab is persistent). */
  agents: LabAgents;
  /** Per NLB: did its nodes reach the health the topology implies before the probe? */
  settled: { nlb: string; result: SettleResult }[];
  /** The real control plane and kube-proxies of the cell, when it runs on them. */
  kube?: LabKube;
  /** `work`, failing at once (with the component's last log lines) if a real component dies. */
  guarded<T>(work: Promise<T>): Promise<T>;
}

/** Validates the cell's topology and resolves its flow (no kernel change). */
export function cellPlan(cell: CellSpec): { topology: Topology; flow: ResolvedFlow } {
  const topology = validateTopology(cell.topology, `${cell.suite}/${cell.id} topology`);
  return { topology, flow: resolveFlow(topology, cell.flow) };
}

export async function cellLabUp(cell: CellSpec, opts: CellLabOptions = {}): Promise<CellLab> {
  const { topology, flow } = cellPlan(cell);
  const kind = cell.flow.kind ?? 'tcp';
  let agents: LabAgents | undefined;
  const real = opts.kubeStage !== undefined && topology.services.length > 0;
  const lab = await Lab.up(topology, {
    contributors: opts.contributors ?? (real ? [nlbContributor] : labContributors()),
    // The real CNI (if any) before real Kubernetes.
    stages: [...labStages(topology), ...(opts.kubeStage ? [opts.kubeStage] : [])],
    ...(opts.runner && { runner: opts.runner }),
    ...(opts.runId && { runId: opts.runId }),
    ...(opts.log && { log: opts.log }),
    persistent: opts.persistent ?? false,
    // Servers before the NLB agents' first health round: their targets are healthy from the start.
    beforeProcesses: async (l) => {
      agents = new LabAgents(l);
      await Promise.all(
        flow.servers.map(async (s) => {
          if (l.persistent)
            await l.runProcess(s.host, {
              name: `server ${s.host}:${s.port}`,
              argv: ['{node}', '{dist}/lib/traffic/serve-cli.js', l.host(s.host).host, kind, String(s.port)],
              readyLine: SERVE_READY,
              readyCount: 1,
            });
          else
            await (await agents!.get(s.host)).startServer({ name: l.host(s.host).host, kind, port: s.port });
        }),
      );
    },
  });
  const kube = opts.kubeStage?.live;
  const guarded = <T>(work: Promise<T>): Promise<T> => (kube ? whileRunning(work, kube.components()) : work);
  try {
    const expected = expectedHealth(topology);
    const settled = await guarded(
      Promise.all(
        topology.loadBalancers.map(async (lb) => ({
          nlb: lb.name,
          result: await NlbControl.of(lab, lb.name).settle(expected),
        })),
      ),
    );
    return { lab, topology, flow, agents: agents!, settled, ...(kube && { kube }), guarded };
  } catch (e) {
    await lab.down().catch(() => undefined);
    throw e;
  }
}
