/** Wiring shared by every CNI profile: the node's primary ENI and the pod veth pairs. */
import { createHash } from 'node:crypto';
import type { HostPlan, PlanBuilder } from '../lab/plan.js';
import type { Eni, Node, Pod, Topology } from '../model/topology.js';

export interface NodeContext {
  topology: Topology;
  node: Node;
  host: HostPlan;
  builder: PlanBuilder;
  pods: Pod[];
}

/** The pod's gateway: a link-local address answered by a permanent neighbour entry (VPC CNI). */
export const POD_GATEWAY = '169.254.1.1';

/** vpc-cni's GeneratePodHostVethName: prefix + the first 11 hex digits of sha1("namespace.name"). */
export function hostVethName(prefix: string, pod: Pod, hexChars = 11): string {
  const h = createHash('sha1').update(`default.${pod.name}`).digest('hex');
  return `${prefix}${h.slice(0, hexChars)}`;
}

/** eth0: the primary ENI with its subnet route and the default route (as cloud-init/DHCP leaves it). */
export function wirePrimaryEni(ctx: NodeContext): void {
  const eni = ctx.node.enis[0]!;
  const { host } = ctx;
  host.config.push(
    'link set lo up',
    `addr add ${eni.address}/${eni.subnet.cidr.prefix} dev eth0`,
    'link set eth0 up',
    `route add default via ${eni.subnet.gateway} dev eth0`,
  );
}

/** A secondary ENI's address and link, leaving the kernel's connected route in main. */
export function wireSecondaryAddress(host: HostPlan, eni: Eni): void {
  if (eni.address) host.config.push(`addr add ${eni.address}/${eni.subnet.cidr.prefix} dev ${eni.name}`);
  host.config.push(`link set ${eni.name} up`);
}

/**
 * A pod namespace: eth0 with its /32, a link-local gateway with a permanent neighbour entry
 * pointing at the host-side veth; on the node, the host veth and a scope-link route to the pod.
 */
export function wirePod(ctx: NodeContext, pod: Pod, vethPrefix: string): string {
  const { builder, host } = ctx;
  const podHost = builder.host(`pod/${pod.name}`, 'pod', pod.address);
  const veth = hostVethName(vethPrefix, pod);
  const { aMac } = builder.veth(host, veth, podHost, 'eth0');
  host.config.push(`link set ${veth} up`, `route add ${pod.address} dev ${veth} scope link`);
  wireLinkLocalGateway(podHost, pod.address, POD_GATEWAY, aMac);
  podHost.legend.push(`eth0 <-> node/${pod.node} ${veth} (ENI ${pod.eni})`);
  return veth;
}

/**
 * A single-homed namespace: `address/32` on eth0 and a default route through a link-local
 * gateway whose MAC is pinned by a permanent neighbour entry (no ARP for the gateway).
 */
export function wireLinkLocalGateway(
  host: HostPlan,
  address: string,
  gateway: string,
  gatewayMac: string,
): void {
  host.config.push(
    'link set lo up',
    `addr add ${address}/32 dev eth0`,
    'link set eth0 up',
    `route add ${gateway} dev eth0 scope link`,
    `route add default via ${gateway} dev eth0`,
    `neigh add ${gateway} lladdr ${gatewayMac} dev eth0 nud permanent`,
  );
}

/**
 * A pod namespace a real CNI plugin wires (the lab only creates it and brings lo up, as a
 * container runtime does before it calls the plugin).
 */
export function podNamespace(ctx: NodeContext, pod: Pod, by: string): HostPlan {
  const podHost = ctx.builder.host(`pod/${pod.name}`, 'pod', pod.address);
  podHost.config.push('link set lo up');
  podHost.legend.push(`eth0 from the CNI plugin (${by}) on node/${pod.node} (ENI ${pod.eni})`);
  return podHost;
}

export function eniOf(node: Node, pod: Pod): Eni {
  const eni = node.enis.find((e) => e.name === pod.eni);
  if (!eni) throw new Error(`pod ${pod.name}: node ${node.name} has no ENI ${pod.eni}`);
  return eni;
}
