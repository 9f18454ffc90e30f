/**
 * Sweeps what interrupted runs left: kind clusters whose owner process died before deleting them
 * (not the ones kept on purpose, unless `all`), then engines nobody owns any more (an interrupted
 * node-image build, a cluster whose record is gone).
 */
import { sweepOrphanEngines } from '../engine/private-engine.js';
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
      const d = await deleteCluster(r.name, { log: opts.log });
      report.removed.push(d);
    } catch (e) {
      report.failed.push({ name: r.name, error: (e as Error).message });
    }
  }
  const inUse = new Set<string>();
  for (const r of await listClusterRecords()) if (r.engine?.mode === 'private') inUse.add(r.engine.record.id);
  report.engines = await sweepOrphanEngines(inUse);
  return report;
}
