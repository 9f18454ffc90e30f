/**
 * returnpath's own test bed for the kubeconfig backend: which labs (`lab up FILE --kubernetes
 * --serve`) make clusters on which a set of cells can run. Cells that share their infrastructure
 * (nodes with their CNI and sysctls, kube-proxy, VPC, internet clients) share a lab, whose
 * topology is the first such cell's with every NLB placement the group's cells use (the lab's
 * cloud then has them all). Pure.
 */
import { validateTopology } from '../model/topology.js';
import type { CellSpec } from '../scenario/cell.js';

type Doc = Record<string, unknown>;

export interface Testbed {
  /** The lab's topology document. */
  doc: Doc;
  cells: CellSpec[];
}

function infrastructureKey(cell: CellSpec): string {
  const t = validateTopology(cell.topology, `${cell.suite}/${cell.id} topology`);
  return JSON.stringify({
    nodes: t.nodes,
    kubeProxy: t.kubeProxy,
    clusterCIDR: t.clusterCIDR.text,
    vpc: t.vpcCidrs.map((c) => c.text),
    internet: t.internetClients,
  });
}

export function testbeds(cells: readonly CellSpec[]): Testbed[] {
  const groups = new Map<string, Testbed>();
  for (const cell of cells) {
    const key = infrastructureKey(cell);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { doc: structuredClone(cell.topology) as Doc, cells: [] }));
    g.cells.push(cell);
    const pool = (g.doc['loadBalancers'] ??= []) as Doc[];
    for (const lb of ((cell.topology as Doc)['loadBalancers'] as Doc[] | undefined) ?? [])
      if (!pool.some((p) => p['name'] === lb['name'])) pool.push(structuredClone(lb));
  }
  return [...groups.values()];
}
