/**
 * Sweeps what interrupted runs left: kind clusters whose owner process died before deleting them
 * (not the ones kept on purpose, unless `all`), each with the lab of an interrupted `run --kind`
 * that adopted its nodes, then engines nobody owns any more (an interrupted
 * node-image build, a cluster whose record is gone).
 */
import { sweepOrphanEngines } from '../engine/private-engine.js';
import { LabHandle } from '../lab/lab.js';
import { readRunState, runStatus } from '../lab/state.js';
import { deleteCluster } from './cluster.js';
import { clusterState, listClusterRecords } from './records.js';

export interface KindCleanReport {
  removed: { name: string; steps: string[] }[];
  kept: { name: string; why: string }[];
  failed: { name: string; error: string }[];
  engines: string[];
}

export async function cleanClusters(
  opts: { all?: boolean; log?: (l: string) => void } = {},
): Promise<KindCleanReport> {
  const report: KindCleanReport = { removed: [], kept: [], failed: [], engines: [] };
  for (const r of await listClusterRecords()) {
    const state = clusterState(r);
    if (state === 'owned-by-live-run') {
      report.kept.push({ name: r.name, why: `owner process ${r.owner?.pid} is running` });
      continue;
    }
    if (state === 'kept' && !opts.all) {
      report.kept.push({
        name: r.name,
        why: `kept on purpose (returnpath kind down ${r.name}, or kind clean --all)`,
      });
      continue;
    }
    try {
      // A `run --kind` test bed: its lab (which adopted the nodes' namespaces) goes first.
      const lab = await readRunState(r.runId).catch(() => undefined);
      const labGone =
        lab && lab.hosts.some((h) => h.adopted) && runStatus(lab).kind !== 'in-use'
          ? await new LabHandle(lab)
              .destroy()
              .then(() => `lab ${r.runId} removed (its nodes' namespaces detached)`)
          : undefined;
      if (labGone) opts.log?.(labGone);
      const d = await deleteCluster(r.name, { log: opts.log });
      report.removed.push(labGone ? { ...d, steps: [labGone, ...d.steps] } : d);
    } catch (e) {
      report.failed.push({ name: r.name, error: (e as Error).message });
    }
  }
  const inUse = new Set<string>();
  for (const r of await listClusterRecords()) if (r.engine?.mode === 'private') inUse.add(r.engine.record.id);
  report.engines = await sweepOrphanEngines(inUse);
  return report;
}
