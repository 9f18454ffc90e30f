/**
 * Expectations derived from a topology (and a fault) rather than typed in, each from its mechanism:
 * - the share of a client pod's connections through an NLB that fail (hairpin, Local policy);
 * - the share that collide at a target when one client reaches several NLB nodes (seed 004);
 * - the share of new connections that miss their deadlines under random packet loss;
 * - the health every NLB node should settle to before a cell probes;
 * and the tolerance band a rate expectation gets around a derived share.
 */
import type { Expectation } from '../verdict/index.js';
import type { Outcome } from '../traffic/outcome.js';
import { cidrContains } from '../model/ip.js';
import { serviceOfNodePort } from './flow.js';
import { validateTopology, type LoadBalancer, type Target, type Topology } from '../model/topology.js';

/**
 * Half-width of the band around a derived share. A rate cell passes once its 95% interval lies
 * inside the band; with up to RATE_CAP_BATCHES batches the interval narrows to about ±0.05, so a
 * measurement that matches the mechanism practically never ends inconclusive.
 */
export const RATE_MARGIN = 0.15;
/** Batches a rate cell may take before it stays inconclusive. */
export const RATE_CAP_BATCHES = 10;

/** Targets the NLB sends new flows to: with Local policy, only nodes with a local endpoint pass the health check. */
export function healthyTargets(topology: Topology, lbName: string, port: number): Target[] {
  const lb = topology.loadBalancers.find((l) => l.name === lbName)!;
  const tg = lb.listeners.find((l) => l.port === port)!.targetGroup;
  const healthy = healthyTargetsOf(topology, lb, port);
  return healthy.length > 0 ? healthy : tg.targets; // every target unhealthy: the NLB fails open
}

/** Targets whose health checks pass (no fail-open): with Local policy, nodes with a local endpoint. */
function healthyTargetsOf(topology: Topology, lb: LoadBalancer, port: number): Target[] {
  const tg = lb.listeners.find((l) => l.port === port)!.targetGroup;
  if (tg.targetType === 'ip') return tg.targets;
  const svc = serviceOfNodePort(topology, tg.targets[0]?.port)?.service;
  if (svc?.externalTrafficPolicy !== 'Local') return tg.targets;
  const withEndpoint = new Set(svc.endpoints.map((p) => p.node));
  return tg.targets.filter((t) => withEndpoint.has(t.name));
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

/**
 * Share of attempts that collide at a target (seed 004): a client reaches every NLB node address in
 * `zones` (all by default) from the same source port at once. With client IP preservation each NLB
 * node forwards the client's own address and port, so the flows that land on one target carry one
 * 5-tuple there: the target's first SYN opens the connection, the others draw only a challenge ACK
 * and time out. Node n picks target t with probability p_n(t) (uniform over its pool: every healthy
 * target with cross-zone on, its zone's without). Per source port, of N flows the expected number
 * that succeed is the expected number of distinct targets hit, Σ_t (1 − Π_n (1 − p_n(t))); the rest
 * fail. Two NLB nodes and two targets: 1/4; three nodes and two targets: 5/12; one target: (N−1)/N.
 */
export function collisionShare(doc: unknown, lbName: string, port: number, zones?: string[]): number {
  const topology = validateTopology(doc, 'collision share');
  const lb = topology.loadBalancers.find((l) => l.name === lbName)!;
  const tg = lb.listeners.find((l) => l.port === port)!.targetGroup;
  const nodes = lb.nodes.filter((n) => !zones || zones.includes(n.zone));
  if (!tg.preserveClientIp || nodes.length < 2) return 0;
  const healthy = healthyTargets(topology, lbName, port);
  const pools = nodes.map((n) => nodePool(lb, healthy, tg.targets, n.zone));
  const distinct = tg.targets.reduce(
    (sum, t) =>
      sum + 1 - pools.reduce((q, pool) => q * (pool.some((x) => x.id === t.id) ? 1 - 1 / pool.length : 1), 1),
    0,
  );
  return (nodes.length - distinct) / nodes.length;
}

/** The targets an NLB node spreads new flows over: healthy ones it may use, or (none healthy) all it may use. */
function nodePool(
  lb: LoadBalancer,
  healthy: readonly Target[],
  all: readonly Target[],
  zone: string,
): Target[] {
  const mine = (ts: readonly Target[]) => ts.filter((t) => lb.crossZone || t.zone === zone);
  const up = mine(healthy);
  return up.length > 0 ? up : mine(all);
}

/**
 * Share of new connections that fail while a fraction `p` of the packets entering the server side of
 * the path is dropped (iptables statistic, each packet independently). The client counts an attempt
 * connected once the server's answer arrives, which needs the SYN and the final ACK of the handshake
 * to get in:
 * - a lost SYN is retransmitted after 1 s, past a connect deadline under 1 s: the attempt fails (p);
 * - a lost final ACK leaves the server in SYN-RECV; it retransmits the SYN-ACK after 1 s, 3 s, 7 s, ...
 *   and every copy draws another ACK, which may be lost again: the attempt fails when every ACK sent
 *   before the answer deadline is lost.
 * share = p + (1 − p) · p^(1 + k), k = SYN-ACK retransmissions before `answerMs`.
 */
export function packetLossShare(p: number, deadlineMs: number, answerMs: number): number {
  if (deadlineMs >= 1000)
    throw new RangeError(
      `packet loss share: a connect deadline of ${deadlineMs} ms lets SYN retransmissions in`,
    );
  let k = 0;
  for (let rto = 1000, at = 1000; at < answerMs; rto *= 2, at += rto) k++;
  return p + (1 - p) * p ** (1 + k);
}

/** A rate band of ±margin around a derived share, clipped to [0, 1] and rounded to 0.1%. */
export function band(share: number, margin = RATE_MARGIN): { min: number; max: number } {
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { min: round(Math.max(0, share - margin)), max: round(Math.min(1, share + margin)) };
}

/**
 * The health each NLB node's agent should reach before a cell probes, keyed as the agent reports it
 * (`<listener port>/<target id>` per NLB host id): the targets `healthyTargets` derives are healthy,
 * the others not (a Local-policy node without an endpoint answers its health check with 503).
 */
export function expectedHealth(topology: Topology): Map<string, Map<string, boolean>> {
  const out = new Map<string, Map<string, boolean>>();
  for (const lb of topology.loadBalancers)
    for (const node of lb.nodes) {
      const keys = new Map<string, boolean>();
      for (const l of lb.listeners) {
        const healthy = new Set(healthyTargetsOf(topology, lb, l.port).map((t) => t.id));
        for (const t of l.targetGroup.targets)
          if (lb.crossZone || t.zone === node.zone) keys.set(`${l.port}/${t.id}`, healthy.has(t.id));
      }
      out.set(`nlb/${lb.name}/${node.zone}`, keys);
    }
  return out;
}

/** Timeouts at `share`: all time out at 1, all connect at 0, else a band of ±RATE_MARGIN around it. */
export function timeoutExpectation(share: number): Expectation<Outcome> {
  const outcome = 'timeout';
  if (share >= 1) return { kind: 'all', outcome };
  if (share <= 0) return { kind: 'all', outcome: 'connected' };
  return { kind: 'rate', outcome, ...band(share) };
}
