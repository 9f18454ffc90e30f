/** Sweeps what interrupted runs left behind: their namespaces (and the processes and links inside) and state. */
import type { CommandRunner } from '../exec/command.js';
import { runIdOf } from './plan.js';
import { deleteNamespaces } from './realize.js';
import { listNetns, listRunStates, processAlive, removeRunState } from './state.js';

export interface CleanReport {
  removedRuns: string[];
  removedNamespaces: string[];
  /** Runs left alone because their owner is alive, or kept up on purpose (without --all). */
  keptRuns: { runId: string; why: string }[];
}

export async function cleanLabs(runner: CommandRunner, opts: { all?: boolean } = {}): Promise<CleanReport> {
  const states = new Map((await listRunStates()).map((s) => [s.runId, s]));
  const byRun = new Map<string, string[]>();
  for (const ns of await listNetns()) {
    const id = runIdOf(ns);
    if (id) byRun.set(id, [...(byRun.get(id) ?? []), ns]);
  }
  for (const id of states.keys()) if (!byRun.has(id)) byRun.set(id, []);

  const report: CleanReport = { removedRuns: [], removedNamespaces: [], keptRuns: [] };
  for (const [runId, namespaces] of [...byRun].sort()) {
    const s = states.get(runId);
    if (s && processAlive(s.pid)) {
      report.keptRuns.push({ runId, why: `owner process ${s.pid} is running` });
      continue;
    }
    if (s && s.pid === 0 && !opts.all && namespaces.length > 0) {
      report.keptRuns.push({ runId, why: "left up by 'lab up' (use 'lab down RUN' or 'lab clean --all')" });
      continue;
    }
    await deleteNamespaces(runner, namespaces);
    await removeRunState(runId);
    report.removedRuns.push(runId);
    report.removedNamespaces.push(...namespaces);
  }
  return report;
}
