/** What one NLB node's agent is told: plain JSON, passed on its command line. */
import type { HealthCheck, LoadBalancer, LoadBalancerNode, Topology } from '../model/topology.js';

export interface AgentTarget {
  id: string;
  address: string;
  port: number;
  zone: string;
  /** Where health checks go: the traffic port or a dedicated one. */
  healthCheckPort: number;
}

export interface AgentListener {
  port: number;
  chain: string;
  preserveClientIp: boolean;
  idleTimeoutSeconds: number;
  healthCheck: HealthCheck;
  targets: AgentTarget[];
}

export interface NlbNodeConfig {
  lb: string;
  zone: string;
  /** The node's private address (source of health checks, SNAT source without client IP preservation). */
  address: string;
  /** The address clients connect to: the private one (internal) or the public one (internet-facing). */
  vip: string;
  crossZone: boolean;
  hashing: { mode: '5-tuple' | 'random'; seed: number };
  listeners: AgentListener[];
}

export function listenerChain(port: number): string {
  return `RP-NLB-L${port}`;
}

export function nlbHostId(lb: LoadBalancer, node: LoadBalancerNode): string {
  return `nlb/${lb.name}/${node.zone}`;
}

export function vipOf(lb: LoadBalancer, node: LoadBalancerNode): string {
  return lb.scheme === 'internet-facing' ? node.publicAddress! : node.address;
}

/** The addresses the NLB's DNS name resolves to, one per zone. */
export function nlbAddresses(topology: Topology, lbName: string): string[] {
  const lb = topology.loadBalancers.find((l) => l.name === lbName);
  if (!lb) throw new Error(`no load balancer ${lbName}`);
  return lb.nodes.map((n) => vipOf(lb, n));
}

export function nodeConfig(lb: LoadBalancer, node: LoadBalancerNode): NlbNodeConfig {
  return {
    lb: lb.name,
    zone: node.zone,
    address: node.address,
    vip: vipOf(lb, node),
    crossZone: lb.crossZone,
    hashing: lb.hashing,
    listeners: lb.listeners.map((l) => ({
      port: l.port,
      chain: listenerChain(l.port),
      preserveClientIp: l.targetGroup.preserveClientIp,
      idleTimeoutSeconds: l.idleTimeoutSeconds,
      healthCheck: l.targetGroup.healthCheck,
      targets: l.targetGroup.targets.map((t) => ({
        id: t.id,
        address: t.address,
        port: t.port,
        zone: t.zone,
        healthCheckPort: l.targetGroup.healthCheck.port ?? t.port,
      })),
    })),
  };
}
