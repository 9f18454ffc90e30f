/**
 * The kubeconfig backend: cells run on a cluster through its API. `openClusterBackend` connects
 * (kubeconfig, credentials, permissions), finds out what the cluster is (its Nodes; its
 * description: the lab's topology for returnpath's own test bed, else --cluster-topology),
 * creates the run's namespace, and returns how a cell runs there and how it all comes down.
 */
import type { CellSpec } from '../scenario/cell.js';
import type { CellResult } from '../scenario/result.js';
import type { CellSource } from '../scenario/reproduce.js';
import { loadTopology, type Topology } from '../model/topology.js';
import { provenance } from '../version.js';
import { loadKubeConfig, preflight } from './connect.js';
import type { ClusterFacts } from './fit.js';
import { labTestbed, type LabTestbed } from './lab-testbed.js';
import { runClusterCell } from './run-cell.js';
import { ClusterSession } from './session.js';

export interface ClusterBackendOptions {
  kubeconfig: string;
  context?: string;
  /** The run's namespace; default `rp-<run>`. */
  namespace?: string;
  /** A topology describing the cluster (nodes' CNI and sysctls, kube-proxy, VPC, NLB placements). */
  clusterTopology?: string;
  run: string;
  log?: (line: string) => void;
  timeoutMs?: number;
  /** returnpath's own test bed, when the caller made it (a kind cluster joined to a lab). */
  testbed?: LabTestbed;
  /** What reproduce lines say in place of `--kubeconfig FILE` (`--kind`: the cluster is the run's own). */
  reproduceFlags?: string[];
}

export interface ClusterBackend {
  /** `server (version)`, and where its description comes from. */
  describe: string;
  run(cell: CellSpec, source: CellSource | undefined): Promise<CellResult>;
  close(): Promise<void>;
}

export function defaultNamespace(run: string): string {
  return `rp-${run}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');
}

export async function openClusterBackend(o: ClusterBackendOptions): Promise<ClusterBackend> {
  const kc = await loadKubeConfig(o.kubeconfig, o.context);
  const namespace = o.namespace ?? defaultNamespace(o.run);
  const version = await preflight(kc, {
    kubeconfig: o.kubeconfig,
    ...(o.context && { context: o.context }),
    namespace,
  });
  const testbed = o.testbed ?? (await labTestbed(o.kubeconfig, kc));
  let description: Topology | undefined = testbed?.topology;
  if (o.clusterTopology) description = await loadTopology(o.clusterTopology);
  const session = await ClusterSession.open({
    kc,
    kubeconfigPath: o.kubeconfig,
    ...(o.context && { context: o.context }),
    // A label value: at most 63 characters, ending alphanumeric.
    run: o.run.slice(0, 63).replace(/[^A-Za-z0-9]+$/, ''),
    namespace,
    version: provenance().version,
    ...(o.log && { log: o.log }),
    ...(o.timeoutMs && { timeoutMs: o.timeoutMs }),
  });
  try {
    const facts: ClusterFacts = { nodes: await session.nodes(), description };
    const clusterFlags = o.reproduceFlags ?? [
      '--kubeconfig',
      o.kubeconfig,
      ...(o.context ? ['--context', o.context] : []),
      ...(o.clusterTopology ? ['--cluster-topology', o.clusterTopology] : []),
    ];
    const server = kc.getCurrentCluster()!.server;
    return {
      describe:
        `cluster ${server} (Kubernetes ${version}, ${facts.nodes.length} nodes), namespace ${namespace}; ` +
        (testbed
          ? `${testbed.what} (its topology ${testbed.topology.name} describes it)`
          : description
            ? `described by ${o.clusterTopology}`
            : 'not described: cells are skipped (give --cluster-topology FILE)'),
      run: (cell, source) =>
        runClusterCell(cell, {
          session,
          facts,
          clusterFlags,
          ...(source && { source }),
          ...(testbed && {
            externalClient: (n: string) => testbed.internetClient(n),
            cloudHost: (id: string) => testbed.cloudHost(id),
          }),
        }),
      close: () => session.close(),
    };
  } catch (e) {
    await session.close().catch(() => undefined);
    throw e;
  }
}
