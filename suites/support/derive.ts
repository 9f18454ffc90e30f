/**
 * Expectations derived from a topology rather than typed in: the share of connections that hairpin
 * (the NLB picks a target on the client's own node while the client IP is preserved), and the
 * tolerance band a rate expectation gets around it.
 */
import type { Expectation } from '../../lib/verdict/index.js';
import type { Outcome } from '../../lib/traffic/outcome.js';
import { cidrContains } from '../../lib/model/ip.js';
import { serviceOfNodePort } from '../../lib/scenario/flow.js';
import { validateTopology, type Target, type Topology } from '../../lib/model/topology.js';

/** Half-width of the band around a derived share. */
export const RATE_MARGIN = 0.15;

/** Targets the NLB sends new flows to: with Local policy, only nodes with a local endpoint pass the health check. */
export function healthyTargets(topology: Topology, lbName: string, port: number): Target[] {
  const lb = topology.loadBalancers.find((l) => l.name === lbName)!;
  const tg = lb.listeners.find((l) => l.port === port)!.targetGroup;
  if (tg.targetType === 'ip') return tg.targets;
  const svc = serviceOfNodePort(topology, tg.targets[0]?.port)?.service;
  if (svc?.externalTrafficPolicy !== 'Local') return tg.targets;
  const withEndpoint = new Set(svc.endpoints.map((p) => p.node));
  const healthy = tg.targets.filter((t) => withEndpoint.has(t.name));
  return healthy.length > 0 ? healthy : tg.targets; // every target unhealthy: the NLB fails open
}

/** The node a target lives on. */
function nodeOf(topology: Topology, t: Target): string {
  return t.kind === 'instance' ? t.name : topology.pods.find((p) => p.name === t.name)!.node;
}

/**
 * Chance that a flow the NLB sends to target `t` comes back through the NLB, for a client pod on
 * `clientNode` whose address the NLB preserves:
 * - ip target: the reply crosses the VPC (back to the NLB) unless the target pod shares the client's node;
 * - instance target, Cluster: the node masquerades, so the reply returns to it and on to the NLB,
 *   unless it is the client's own node (there the un-NATed reply is delivered locally);
 * - instance target, Local, with the clusterCIDR local-traffic detector: kube-proxy sends a source
 *   inside the cluster CIDR to KUBE-SVC (every endpoint, no masquerade), so only a local endpoint
 *   on a node other than the client's answers through the NLB; a remote one gets the SYN with the
 *   client's source (dropped by the ENI source/destination check, or answered straight to the
 *   client), a client-node one hairpins;
 * - instance target, Local, no detector (EKS): the pod source is external like any other, KUBE-SVL
 *   picks a local endpoint, its reply crosses the VPC back to the NLB, unless the node is the
 *   client's own.
 */
function returnsThroughNlb(topology: Topology, t: Target, clientNode: string, clientAddress: string): number {
  if (t.kind === 'ip') return nodeOf(topology, t) === clientNode ? 0 : 1;
  if (t.name === clientNode) return 0;
  const svc = serviceOfNodePort(topology, t.port)?.service;
  if (
    svc?.externalTrafficPolicy !== 'Local' ||
    topology.kubeProxy.detectLocal === 'none' ||
    !cidrContains(topology.clusterCIDR, clientAddress)
  )
    return 1;
  return svc.endpoints.filter((p) => p.node === t.name).length / svc.endpoints.length;
}

export interface FailureModel {
  /** Share of connections that fail. */
  share: number;
  /** Some flows are answered on the client's own node (the client pod resets the SYN-ACK). */
  hairpin: boolean;
  /** Some flows are forwarded to another node with the client's source (the source/destination check drops them). */
  forwardedWithClientSource: boolean;
}

/**
 * Share of a client pod's connections through the NLB that fail: zero without client IP
 * preservation; otherwise, per NLB node the client resolves (attempts spread evenly), the mean
 * over its eligible targets (every healthy one with cross-zone, its zone's own without) of the
 * chance the reply does not come back through the NLB.
 */
export function failureModel(
  doc: unknown,
  lbName: string,
  client: string,
  port: number,
  zones?: string[],
): FailureModel {
  const topology = validateTopology(doc, 'failure model');
  const lb = topology.loadBalancers.find((l) => l.name === lbName)!;
  const tg = lb.listeners.find((l) => l.port === port)!.targetGroup;
  const none = { share: 0, hairpin: false, forwardedWithClientSource: false };
  if (!tg.preserveClientIp) return none;
  const pod = topology.pods.find((p) => p.name === client)!;
  const healthy = healthyTargets(topology, lbName, port);
  const nodes = lb.nodes.filter((n) => !zones || zones.includes(n.zone));
  let hairpin = false;
  let forwarded = false;
  const shares = nodes.map((n) => {
    const eligible = lb.crossZone ? healthy : healthy.filter((t) => t.zone === n.zone);
    const ok = eligible.reduce((sum, t) => {
      const p = returnsThroughNlb(topology, t, pod.node, pod.address);
      if (nodeOf(topology, t) === pod.node) hairpin = true;
      else if (p < 1) forwarded = true;
      return sum + p;
    }, 0);
    return 1 - ok / eligible.length;
  });
  return {
    share: shares.reduce((s, x) => s + x, 0) / shares.length,
    hairpin,
    forwardedWithClientSource: forwarded,
  };
}

/** Timeouts at `share`: all time out at 1, all connect at 0, else a band of ±RATE_MARGIN around it. */
export function timeoutExpectation(share: number): Expectation<Outcome> {
  const outcome = 'timeout';
  if (share >= 1) return { kind: 'all', outcome };
  if (share <= 0) return { kind: 'all', outcome: 'connected' };
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    kind: 'rate',
    outcome,
    min: round(Math.max(0, share - RATE_MARGIN)),
    max: round(Math.min(1, share + RATE_MARGIN)),
  };
}
