/**
 * Can a cell run on a given cluster? Through the Kubernetes API returnpath creates the cell's
 * workload (pods, Services, the NLB's annotations) and nothing else: the nodes, their CNI and
 * sysctls, kube-proxy's configuration, the VPC and the clients outside it are the cluster's. A cell
 * runs only where those are what its topology says; otherwise it is skipped, with every difference
 * as the reason. Pure: the cluster is described by its Nodes (from the API) and by a topology of the
 * cluster (the lab's own, or one the user gives for theirs).
 */
import type { LoadBalancer, Node, Topology } from '../model/topology.js';

/** A Node as the API shows it. */
export interface ClusterNode {
  name: string;
  zone: string | undefined;
  internalIP: string | undefined;
  ready: boolean;
  /**
   * Labelled node.kubernetes.io/exclude-from-external-load-balancers (kubeadm's control-plane
   * nodes): the controller registers it as no NLB's target.
   */
  excludedFromLoadBalancers?: boolean;
}

export interface ClusterFacts {
  nodes: readonly ClusterNode[];
  /** What the cluster is beyond its Nodes (CNI, sysctls, kube-proxy, VPC, clients, NLB placements). */
  description: Topology | undefined;
}

const json = (v: unknown): string => JSON.stringify(v);

function nodeDifferences(want: Node, have: Node): string[] {
  const out: string[] = [];
  if (json(want.cni) !== json(have.cni))
    out.push(`node ${want.name}: CNI ${json(want.cni)}, the cluster's is ${json(have.cni)}`);
  if (json(want.sysctls) !== json(have.sysctls))
    out.push(`node ${want.name}: sysctls ${json(want.sysctls)}, the cluster's are ${json(have.sysctls)}`);
  if (json(want.enis.map((e) => e.address)) !== json(have.enis.map((e) => e.address)))
    out.push(`node ${want.name}: ENIs differ from the cluster's`);
  return out;
}

function placementDifferences(lb: LoadBalancer, pool: readonly LoadBalancer[]): string[] {
  const have = pool.find((p) => p.name === lb.name);
  if (!have) return [`NLB ${lb.name}: the cluster's cloud has no NLB placement of that name`];
  const where = (l: LoadBalancer): string =>
    json(l.nodes.map((n) => [n.zone, n.address, n.publicAddress ?? null]));
  const out: string[] = [];
  if (have.scheme !== lb.scheme)
    out.push(`NLB ${lb.name}: scheme ${lb.scheme}, the placement's is ${have.scheme}`);
  if (where(have) !== where(lb))
    out.push(`NLB ${lb.name}: zones/addresses ${where(lb)}, the placement's ${where(have)}`);
  return out;
}

/**
 * Why `cell` (its validated topology) cannot run on the cluster, one line per difference; empty
 * when it can.
 */
export function fitProblems(topology: Topology, facts: ClusterFacts): string[] {
  const out: string[] = [];
  const api = new Map(facts.nodes.map((n) => [n.name, n]));
  for (const n of topology.nodes) {
    // A host without a CNI (seed 004's bastion) is an instance of the VPC, not a Kubernetes node.
    if (n.cni.profile === 'none') continue;
    const a = api.get(n.name);
    if (!a) {
      out.push(
        `node ${n.name} (${n.zone}): not a node of the cluster (${[...api.keys()].join(', ') || 'none'})`,
      );
      continue;
    }
    if (a.zone !== n.zone)
      out.push(`node ${n.name}: zone ${n.zone}, the cluster's node is in ${a.zone ?? 'no zone'}`);
    if (a.internalIP !== n.address)
      out.push(`node ${n.name}: address ${n.address}, the cluster's node has ${a.internalIP ?? 'none'}`);
    if (!a.ready) out.push(`node ${n.name}: not Ready`);
  }
  // The controller registers every node as an instance target (no target-node-labels here), but
  // for those excluded from external load balancers.
  const all = facts.nodes
    .filter((n) => !n.excludedFromLoadBalancers)
    .map((n) => n.name)
    .sort();
  for (const lb of topology.loadBalancers)
    for (const l of lb.listeners) {
      const tg = l.targetGroup;
      if (tg.targetType !== 'instance') continue;
      const targets = [...new Set(tg.targets.map((t) => t.name))].sort();
      if (json(targets) !== json(all))
        out.push(
          `NLB ${lb.name}: instance targets ${targets.join(', ')}; the controller registers every node of the cluster: ${all.join(', ')}`,
        );
    }
  const d = facts.description;
  if (!d) {
    out.push(
      'the cluster is not described (its CNI, sysctls, kube-proxy, VPC and NLB placements): give --cluster-topology FILE',
    );
    return out;
  }
  for (const n of topology.nodes) {
    const have = d.nodes.find((x) => x.name === n.name);
    if (have) out.push(...nodeDifferences(n, have));
  }
  if (json(topology.kubeProxy) !== json(d.kubeProxy))
    out.push(`kube-proxy ${json(topology.kubeProxy)}, the cluster's is ${json(d.kubeProxy)}`);
  if (topology.clusterCIDR.text !== d.clusterCIDR.text)
    out.push(`cluster CIDR ${topology.clusterCIDR.text}, the cluster's is ${d.clusterCIDR.text}`);
  if (json(topology.vpcCidrs.map((c) => c.text)) !== json(d.vpcCidrs.map((c) => c.text)))
    out.push(`VPC CIDRs differ from the cluster's`);
  for (const c of topology.internetClients) {
    const have = d.internetClients.find((x) => x.name === c.name);
    if (!have || have.address !== c.address)
      out.push(`internet client ${c.name} (${c.address}): the cluster has no such client returnpath can run`);
  }
  for (const lb of topology.loadBalancers) out.push(...placementDifferences(lb, d.loadBalancers));
  for (const p of topology.pods)
    if (!topology.nodes.some((n) => n.name === p.node))
      out.push(`pod ${p.name}: node ${p.node} is not in the cell`);
  return out;
}
