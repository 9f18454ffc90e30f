/**
 * The chaos part of a cell: fingerprint what the faults touch, run steady traffic along the flow
 * while the faults are applied and reverted (lib/chaos), fingerprint again. Returns the timeline,
 * its attempts as outcomes and the checks; the faults are reverted whatever happens.
 */
import { diffFingerprints, fingerprintAll, formatDifferences } from '../chaos/fingerprint.js';
import { labChaosContext } from '../chaos/fault.js';
import { runTimeline } from '../chaos/timeline.js';
import type { LabAgents } from '../lab/agents.js';
import type { Lab } from '../lab/lab.js';
import type { LabKube } from '../kube/lab-kube.js';
import type { ChaosSpec } from './cell.js';
import { timelineChecks } from './chaos-checks.js';
import type { ResolvedFlow } from './flow.js';
import type { CheckResult, Timeline } from './result.js';

export interface ChaosRun {
  timeline: Timeline;
  outcomes: string[];
  checks: CheckResult[];
  reproduce: string[];
}

export async function runChaos(
  lab: Lab,
  agents: LabAgents,
  chaos: ChaosSpec,
  flow: ResolvedFlow,
  kube?: LabKube,
): Promise<ChaosRun> {
  const ctx = labChaosContext(lab, { agents, ...(kube && { kube }) });
  const faults = chaos.faults.map((f) => ({ atMs: f.atMs, durationMs: f.durationMs, fault: f.fault() }));
  const touched = [...new Set(faults.flatMap((f) => f.fault.hosts(ctx)))];
  const execs = touched.map((h) => lab.host(h));
  const before = await fingerprintAll(execs);
  const dest = flow.destinations[0]!;
  const timeline = await runTimeline({
    ctx,
    client: flow.client,
    target: { host: dest.address, port: dest.port },
    durationMs: chaos.durationMs,
    ...(chaos.batch && { batch: chaos.batch }),
    ...(chaos.longLived && { longLived: chaos.longLived }),
    faults,
  });
  const diffs = diffFingerprints(before, await fingerprintAll(execs));
  const fingerprintCheck: CheckResult = {
    name: `state restored on ${touched.join(', ')}`,
    status: diffs.length === 0 ? 'pass' : 'fail',
    detail:
      diffs.length === 0
        ? 'rules, routes of every table, iptables, sysctls, links, qdiscs as before'
        : formatDifferences(diffs),
  };
  return {
    timeline,
    outcomes: timeline.samples.map((s) => s.outcome),
    checks: [...timelineChecks(timeline, chaos.bounds), fingerprintCheck],
    reproduce: faults.flatMap((f) => f.fault.commands),
  };
}
