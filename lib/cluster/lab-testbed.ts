/**
 * When the kubeconfig is one a lab on this machine printed (`lab up FILE --kubernetes --serve`),
 * the cluster is returnpath's own test bed: its description is the lab's topology, and the
 * clients outside the cluster (the topology's internet clients) are the lab's internet
 * namespaces; its VPC fabric and NLB nodes can be observed for evidence (the lab is the cloud). A
 * real cluster has none of these: its description comes from --cluster-topology, and
 * cells that need an internet client are skipped.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { LabHandle } from '../lab/lab.js';
import { listKubeStates } from '../kube/state.js';
import { parseTopology, type Topology } from '../model/topology.js';
import type { HostExec } from '../exec/netns.js';

/** Where a serve-mode lab keeps the topology document it was built from (in its control plane's directory). */
export const TESTBED_TOPOLOGY = 'topology.json';

export interface LabTestbed {
  runId: string;
  topology: Topology;
  /** What the cluster is, for the run's first line. */
  what: string;
  internetClient(name: string): HostExec | undefined;
  /** The cloud's own hosts, observable because the lab is the cloud: `fabric` (the VPC), `nlb/NAME/ZONE`. */
  cloudHost(id: string): HostExec | undefined;
}

export async function labTestbed(kubeconfigPath: string, kc: KubeConfig): Promise<LabTestbed | undefined> {
  const server = kc.getCurrentCluster()?.server;
  for (const r of await listKubeStates()) {
    const own = join(r.dir, 'kubeconfig');
    let match = resolve(kubeconfigPath) === own;
    if (!match && server) match = (await readFile(own, 'utf8').catch(() => '')).includes(`server: ${server}`);
    if (!match) continue;
    const text = await readFile(join(r.dir, TESTBED_TOPOLOGY), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const topology = parseTopology(text, `lab ${r.id} topology`);
    return testbedOfLab(await LabHandle.attach(r.id), topology, `returnpath's lab ${r.id}`);
  }
  return undefined;
}

/** A lab as the cloud and the outside of a cluster `topology` describes (serve mode, or kind nodes it adopted). */
export function testbedOfLab(lab: LabHandle, topology: Topology, what: string): LabTestbed {
  return {
    runId: lab.runId,
    topology,
    what,
    internetClient: (name) => {
      const h = lab.hosts.find((x) => x.id === `internet/${name}`);
      return h ? lab.host(h.id) : undefined;
    },
    cloudHost: (id) => {
      const h = lab.hosts.find((x) => x.id === id && (x.kind === 'fabric' || x.kind === 'nlb'));
      return h ? lab.host(h.id) : undefined;
    },
  };
}
