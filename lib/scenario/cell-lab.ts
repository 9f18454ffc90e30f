/**
 * A cell's lab, running: its topology realized, a server on every endpoint started before the NLB
 * agents' first health round, and every NLB node settled on the health the topology implies. The
 * cell runner probes it and tears it down; `returnpath lab up --cell` leaves it up (servers as
 * processes of their own) so that the cell's reproduce lines work until `lab down`.
 */
import type { CommandRunner } from '../exec/command.js';
import { LabAgents } from '../lab/agents.js';
import { labContributors } from '../lab/contributors.js';
import type { PlanContributor } from '../lab/build-plan.js';
import { Lab } from '../lab/lab.js';
import { validateTopology, type Topology } from '../model/topology.js';
import { NlbControl, type SettleResult } from '../nlb/control.js';
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
}

export interface CellLab {
  lab: Lab;
  topology: Topology;
  flow: ResolvedFlow;
  /** Traffic agents of the lab's hosts (the servers run in them unless the lab is persistent). */
  agents: LabAgents;
  /** Per NLB: did its nodes reach the health the topology implies before the probe? */
  settled: { nlb: string; result: SettleResult }[];
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
  const lab = await Lab.up(topology, {
    contributors: opts.contributors ?? labContributors(),
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
  try {
    const expected = expectedHealth(topology);
    const settled = await Promise.all(
      topology.loadBalancers.map(async (lb) => ({
        nlb: lb.name,
        result: await NlbControl.of(lab, lb.name).settle(expected),
      })),
    );
    return { lab, topology, flow, agents: agents!, settled };
  } catch (e) {
    await lab.down().catch(() => undefined);
    throw e;
  }
}
