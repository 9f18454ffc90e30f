/**
 * The chaos part of a cell: fingerprint what the faults touch, run steady traffic along the flow
 * while the faults are applied and reverted (lib/chaos), fingerprint again. Returns the timeline,
 * its attempts as outcomes and the checks; the faults are reverted whatever happens.
 */
import { diffFingerprints, fingerprintAll, formatDifferences } from '../chaos/fingerprint.js';
import { buildFault } from '../chaos/fault-spec.js';
import { labChaosContext } from '../chaos/fault.js';
import { runTimeline } from '../chaos/timeline.js';
import type { LabAgents } from '../lab/agents.js';
import type { Lab } from '../lab/lab.js';
import { NlbControl } from '../nlb/control.js';
import type { LabKube } from '../kube/lab-kube.js';
import type { ChaosSpec } from './cell.js';
import { timelineChecks, type NlbTakeOut } from './chaos-checks.js';
import type { ResolvedFlow } from './flow.js';
import type { CheckResult, Timeline } from './result.js';

export interface ChaosRun {
  timeline: Timeline;
  outcomes: string[];
  checks: CheckResult[];
  reproduce: string[];
}

/**
 * The first rule change of an NLB's agents (on the nodes the flow uses) that left `target` out
 * after the faults were applied, with the health event that caused it, in timeline time.
 */
export function takeOutOf(
  nlb: NlbControl,
  target: string,
  timeline: Timeline,
  hosts: readonly string[],
): NlbTakeOut | null {
  const t0 = timeline.startedAt;
  const applied = Math.min(...timeline.windows.map((w) => w.applied ?? w.from));
  if (t0 === undefined || !Number.isFinite(applied)) return null;
  const events = nlb.events().filter((l) => hosts.includes(l.host) && l.event.at !== undefined);
  const rules = events.find(
    (l) =>
      l.event.event === 'rules' &&
      l.event.at! - t0 >= applied &&
      !((l.event['targets'] as string[] | undefined) ?? []).includes(target),
  );
  if (!rules) return null;
  const health = events.find(
    (l) =>
      l.host === rules.host &&
      l.event.event === 'health' &&
      l.event['target'] === target &&
      l.event['healthy'] === false &&
      l.event.at! - t0 >= applied,
  );
  const t = rules.event.at! - t0;
  const why =
    health && health.event['failures'] !== undefined
      ? ` after ${String(health.event['failures'])} missed health checks`
      : '';
  return { t, detail: `${rules.host} took ${target} out at +${Math.round(t)} ms${why}` };
}

/** After the NLB's rules dropped the target, this much traffic is kept under the fault. */
export const AFTER_TAKE_OUT_MS = 1000;
/** A take-out that has not come after this long is not coming: revert, and let the check say so. */
export const TAKE_OUT_PATIENCE_MS = 60_000;

/** Resolves AFTER_TAKE_OUT_MS after one of `hosts` applied rules without `target` (or when patience runs out). */
async function tookOut(
  nlb: NlbControl,
  target: string,
  hosts: readonly string[],
  since: number,
): Promise<void> {
  const end = Date.now() + TAKE_OUT_PATIENCE_MS;
  for (;;) {
    const out = nlb
      .events()
      .find(
        (l) =>
          hosts.includes(l.host) &&
          l.event.event === 'rules' &&
          (l.event.at ?? 0) >= since &&
          !((l.event['targets'] as string[] | undefined) ?? []).includes(target),
      );
    if (out) {
      const wait = (out.event.at ?? Date.now()) + AFTER_TAKE_OUT_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      return;
    }
    if (Date.now() > end) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function runChaos(
  lab: Lab,
  agents: LabAgents,
  chaos: ChaosSpec,
  flow: ResolvedFlow,
  kube?: LabKube,
): Promise<ChaosRun> {
  const ctx = labChaosContext(lab, { agents, ...(kube && { kube }) });
  const ends = chaos.bounds.endsWhenUnhealthy;
  // An effect that lasts until the NLB reacts: hold the faults until it has (a condition, not a
  // time a busy machine may overrun), and a little longer, so that attempts after it are seen.
  const holdUntil = ends
    ? (appliedAt: number) =>
        tookOut(NlbControl.of(lab, ends.nlb), ends.target, flow.nlbHosts ?? [], appliedAt)
    : undefined;
  const faults = chaos.faults.map((f) => ({
    atMs: f.atMs,
    durationMs: f.durationMs,
    fault: buildFault(f.fault),
    ...(holdUntil && { holdUntil }),
  }));
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
  const takeOut = ends
    ? takeOutOf(NlbControl.of(lab, ends.nlb), ends.target, timeline, flow.nlbHosts ?? [])
    : undefined;
  return {
    timeline,
    outcomes: timeline.samples.map((s) => s.outcome),
    checks: [...timelineChecks(timeline, chaos.bounds, takeOut), fingerprintCheck],
    reproduce: faults.flatMap((f) => f.fault.commands),
  };
}
