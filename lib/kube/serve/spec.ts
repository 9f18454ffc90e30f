/**
 * What serve mode's roles know about the lab (pure, unit-tested): its nodes and the pod slots the
 * topology's pods stand for (their network namespaces are built and wired at lab up: the node's
 * warm pool), written by `lab up --serve` for the controller process, and the slot a Pod takes.
 */
import type { Topology } from '../../model/topology.js';

export interface ServeNode {
  name: string;
  /** eth0's (VPC) address: hostIP, and the pod IP of hostNetwork pods. */
  address: string;
  zone: string;
  /** The lab host id of its namespace (`node/NAME`). */
  host: string;
}

export interface PodSlot {
  /** The topology pod's name (a Pod of that name prefers this slot). */
  name: string;
  node: string;
  address: string;
  /** The lab host id of its namespace (`pod/NAME`). */
  host: string;
}

export interface ServeSpec {
  runId: string;
  nodes: ServeNode[];
  /** In topology order (the order free slots are handed out). */
  slots: PodSlot[];
}

export function serveSpec(runId: string, topology: Topology): ServeSpec {
  return {
    runId,
    // Hosts without a CNI are VPC instances, not Nodes (objects.ts serveObjects).
    nodes: topology.nodes
      .filter((n) => n.cni.profile !== 'none')
      .map((n) => ({
        name: n.name,
        address: n.address,
        zone: n.zone,
        host: `node/${n.name}`,
      })),
    slots: topology.pods.map((p) => ({
      name: p.name,
      node: p.node,
      address: p.address,
      host: `pod/${p.name}`,
    })),
  };
}

/**
 * The slot a Pod named `podName` bound to `node` takes: the free slot of that node whose topology
 * pod has the same name, else the node's first free slot (topology order); undefined when the
 * node has none free.
 */
export function chooseSlot(
  slots: readonly PodSlot[],
  taken: ReadonlySet<string>,
  node: string,
  podName: string,
): PodSlot | undefined {
  const free = slots.filter((s) => s.node === node && !taken.has(s.name));
  return free.find((s) => s.name === podName) ?? free[0];
}
