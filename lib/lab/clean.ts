/**
 * Sweeps what interrupted runs left behind (their namespaces, the processes and links inside, and
 * their state), and only that: a run recorded in this state directory whose owner is gone (PID
 * and start time, lib/lab/owner.ts) or whose `lab up` died while building it; a lab left up only
 * with `all`. A namespace no state records is removed only when it carries this state directory's
 * marker (its loopback alias, set when the lab was built): another user's or another state
 * directory's `rp-*` namespaces are never touched.
 */
import { mapLimit, type CommandRunner } from '../exec/command.js';
import { runIdOf } from './plan.js';
import { deleteNamespaces } from './realize.js';
import {
  adoptedMarker,
  labMarker,
  listNetns,
  listRunStates,
  removeRunState,
  runStatus,
  STATE_DIR,
} from './state.js';

export interface CleanReport {
  removedRuns: string[];
  removedNamespaces: string[];
  /** Runs left alone: their owner is alive, they were left up on purpose (without --all), or they are not ours. */
  keptRuns: { runId: string; why: string }[];
}

/** The loopback alias of a namespace (the lab's marker), or undefined. */
export async function namespaceMarker(runner: CommandRunner, netns: string): Promise<string | undefined> {
  const r = await runner.run(['ip', '-n', netns, '-j', 'link', 'show', 'dev', 'lo'], { allowFailure: true });
  if (r.code !== 0) return undefined;
  try {
    const [lo] = JSON.parse(r.stdout) as { ifalias?: string }[];
    return lo?.ifalias;
  } catch {
    return undefined;
  }
}

export async function cleanLabs(runner: CommandRunner, opts: { all?: boolean } = {}): Promise<CleanReport> {
  const report: CleanReport = { removedRuns: [], removedNamespaces: [], keptRuns: [] };
  const present = new Set(await listNetns());
  const recorded = new Set<string>();

  for (const s of (await listRunStates()).sort((a, b) => (a.runId < b.runId ? -1 : 1))) {
    const namespaces = s.hosts.map((h) => h.netns);
    namespaces.forEach((n) => recorded.add(n));
    const status = runStatus(s);
    if (status.kind === 'in-use' || (status.kind === 'left-up' && !opts.all)) {
      report.keptRuns.push({
        runId: s.runId,
        why:
          status.kind === 'left-up'
            ? `${status.why} (use 'lab down ${s.runId}' or 'lab clean --all')`
            : status.why,
      });
      continue;
    }
    const left = namespaces.filter((n) => present.has(n));
    await deleteNamespaces(
      runner,
      left,
      s.hosts.filter((h) => h.adopted).map((h) => h.netns),
    );
    await removeRunState(s.runId);
    report.removedRuns.push(s.runId);
    report.removedNamespaces.push(...left);
  }

  // Namespaces no state records: ours only with our marker (a state file lost, e.g. deleted by hand).
  const unrecorded = [...present].filter((n) => runIdOf(n) !== undefined && !recorded.has(n)).sort();
  const markers = await mapLimit(unrecorded, 8, (n) => namespaceMarker(runner, n));
  const orphans = new Map<string, string[]>();
  const adopted: string[] = [];
  const foreign = new Map<string, number>();
  unrecorded.forEach((n, i) => {
    const runId = runIdOf(n)!;
    if (markers[i] === adoptedMarker(runId)) adopted.push(n);
    if (markers[i] === labMarker(runId) || markers[i] === adoptedMarker(runId))
      orphans.set(runId, [...(orphans.get(runId) ?? []), n]);
    else foreign.set(runId, (foreign.get(runId) ?? 0) + 1);
  });
  for (const [runId, namespaces] of orphans) {
    // An adopted namespace (a kind node's) is detached only: what runs in it is not the lab's.
    await deleteNamespaces(runner, namespaces, adopted);
    if (!report.removedRuns.includes(runId)) report.removedRuns.push(runId);
    report.removedNamespaces.push(...namespaces);
  }
  for (const [runId, n] of foreign)
    report.keptRuns.push({
      runId,
      why: `${n} namespace(s) not recorded in ${STATE_DIR} and without its marker: not this state directory's, left alone`,
    });
  return report;
}
