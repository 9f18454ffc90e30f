/**
 * `returnpath clean --kubeconfig FILE`: removes what interrupted cluster runs left. Every run
 * creates one namespace, labelled with its run and annotated with its owner (host, PID, start
 * time); everything else it creates lives in it. A namespace whose owner still runs on this
 * machine is kept; one owned by another machine is kept unless `force` (returnpath cannot tell
 * whether that run is alive). Nothing without the run label is touched.
 */
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api } from '@kubernetes/client-node';
import { identityAlive } from '../exec/process-identity.js';
import { apiStatus } from '../kube/cluster-api.js';
import { done, notYet, waitFor } from '../kube/wait.js';
import { OWNER_ANNOTATION, RUN_LABEL } from './manifests.js';

export interface ClusterCleanReport {
  removed: string[];
  kept: { namespace: string; why: string }[];
}

/** `host/pid/startTime` → alive here, gone, or unknowable (another host). */
export function ownerState(owner: string | undefined, here = hostname()): 'alive' | 'gone' | 'elsewhere' {
  const m = /^(.*)\/(\d+)\/(\d+)$/.exec(owner ?? '');
  if (!m) return 'gone';
  if (m[1] !== here) return 'elsewhere';
  return identityAlive({ pid: Number(m[2]), startTime: Number(m[3]) }) ? 'alive' : 'gone';
}

export async function cleanCluster(
  kc: KubeConfig,
  opts: { force?: boolean; timeoutMs?: number } = {},
): Promise<ClusterCleanReport> {
  const core = kc.makeApiClient(CoreV1Api);
  const list = await core.listNamespace({ labelSelector: RUN_LABEL });
  const report: ClusterCleanReport = { removed: [], kept: [] };
  const doomed: string[] = [];
  for (const ns of list.items) {
    const name = ns.metadata!.name!;
    const owner = ns.metadata?.annotations?.[OWNER_ANNOTATION];
    const state = ownerState(owner);
    if (state === 'alive') report.kept.push({ namespace: name, why: `its run is in progress (${owner})` });
    else if (state === 'elsewhere' && !opts.force)
      report.kept.push({
        namespace: name,
        why: `its run belongs to another machine (${owner}); --force removes it`,
      });
    else doomed.push(name);
  }
  await Promise.all(
    doomed.map(async (name) => {
      await core.deleteNamespace({ name }).then(
        () => report.removed.push(name),
        (e: unknown) => {
          if (apiStatus(e) !== 404) throw e;
        },
      );
      await waitFor(
        async () =>
          (await core.readNamespace({ name }).catch(() => undefined)) ? notYet('terminating') : done(true),
        { what: `namespace ${name} to be deleted`, timeoutMs: opts.timeoutMs ?? 120_000, maxIntervalMs: 500 },
      );
    }),
  );
  return report;
}
