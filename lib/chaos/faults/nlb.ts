/**
 * Faults of the emulated NLB: a zone's NLB node lost, a target unhealthy, a target deregistered.
 */
import { NotFoundError } from '../../errors.js';
import type { LoadBalancer, LoadBalancerNode } from '../../model/topology.js';
import { nlbHostId } from '../../nlb/config.js';
import type { AgentEvent } from '../../nlb/control.js';
import { parseIpJson } from '../ip-json.js';
import type { OwnedRules } from '../iptables.js';
import { BaseFault, FaultError, type ChaosContext } from '../fault.js';
import { OwnChainFault } from './chain.js';
import { TargetNotReady } from './readiness.js';

const FABRIC = 'fabric';

function findLb(ctx: ChaosContext, lbName: string): LoadBalancer {
  const lb = ctx.topology.loadBalancers.find((l) => l.name === lbName);
  if (!lb)
    throw new NotFoundError(
      `no load balancer "${lbName}" (have: ${ctx.topology.loadBalancers.map((l) => l.name).join(', ') || 'none'})`,
    );
  return lb;
}

function findNode(lb: LoadBalancer, zone: string): LoadBalancerNode {
  const node = lb.nodes.find((n) => n.zone === zone);
  if (!node)
    throw new NotFoundError(
      `load balancer ${lb.name} has no node in zone "${zone}" (zones: ${lb.nodes.map((n) => n.zone).join(', ')})`,
    );
  return node;
}

function nlbHosts(ctx: ChaosContext, lbName: string): string[] {
  const lb = findLb(ctx, lbName);
  return lb.nodes.map((n) => nlbHostId(lb, n));
}

export interface NlbNodeLossOptions {
  /**
   * The node comes back without its flows (a replacement node): its conntrack table is flushed
   * when it is lost, so packets of flows that survived the outage on the client draw RSTs
   * afterwards. Default false: the node comes back as it was (a network partition).
   */
  forgetFlows?: boolean;
}

/**
 * The NLB node of one zone stops answering, then comes back.
 *
 * Emulated by dropping, in the fabric's raw PREROUTING (before conntrack, so the fabric's own flow
 * state is untouched), every packet arriving from the node's fabric port and every packet
 * addressed to the node (its private and public address). Chosen over taking its link down: the
 * NLB node keeps its routes, conntrack and agent, so revert is one rule removal and exact, while a
 * client sees the same thing either way: its SYNs to that address go unanswered (timeout; no RST,
 * no ICMP, as when an AWS NLB node vanishes), and established flows through it stall (long-lived
 * connections time out). The node's health checks fail too, so after its unhealthy threshold its
 * agent resets its targets' flows; while every target is unhealthy it fails open (rules unchanged),
 * and once the node is back the targets recover after the healthy threshold.
 */
export class NlbNodeLoss extends OwnChainFault {
  readonly kind = 'nlb-node-loss';
  readonly label: string;

  constructor(
    readonly lbName: string,
    readonly zone: string,
    readonly opts: NlbNodeLossOptions = {},
  ) {
    super('NLBLOSS');
    this.label = `NLB node ${lbName}/${zone} lost${opts.forgetFlows ? ' (comes back without its flows)' : ''}`;
  }

  hosts(ctx: ChaosContext): string[] {
    const lb = findLb(ctx, this.lbName);
    return this.opts.forgetFlows ? [FABRIC, nlbHostId(lb, findNode(lb, this.zone))] : [FABRIC];
  }

  protected async desired(ctx: ChaosContext): Promise<{ host: string; rules: OwnedRules }> {
    const node = findNode(findLb(ctx, this.lbName), this.zone);
    const addresses = [node.address, ...(node.publicAddress ? [node.publicAddress] : [])];
    // The fabric port leading to the node: ask the fabric's routing rather than re-derive its naming.
    const res = await this.run(ctx, FABRIC, ['ip', '-j', 'route', 'get', node.address]);
    const port = parseIpJson<{ dev?: string }>(res.stdout, 'fabric: ip route get')[0]?.dev;
    if (!port) throw new FaultError(this.label, `the fabric has no route to ${node.address}`);
    const comment = `-m comment --comment "returnpath:chaos ${this.lbName}/${this.zone} lost"`;
    const rules = [`-i ${port} ${comment} -j DROP`, ...addresses.map((a) => `-d ${a}/32 ${comment} -j DROP`)];
    return { host: FABRIC, rules: this.single('raw', 'PREROUTING', '', rules) };
  }

  protected override async doApply(ctx: ChaosContext): Promise<void> {
    await super.doApply(ctx);
    if (this.opts.forgetFlows) {
      const lb = findLb(ctx, this.lbName);
      await this.run(ctx, nlbHostId(lb, findNode(lb, this.zone)), ['conntrack', '-F']);
    }
  }
}

export function nlbNodeLoss(lbName: string, zone: string, opts: NlbNodeLossOptions = {}): NlbNodeLoss {
  return new NlbNodeLoss(lbName, zone, opts);
}

function throwOnError(fault: string, events: readonly AgentEvent[]): AgentEvent[] {
  const bad = events.filter((e) => e.event === 'error');
  if (bad.length)
    throw new FaultError(
      fault,
      `NLB agent refused: ${bad.map((e) => String(e['message'] ?? e['stderr'] ?? JSON.stringify(e))).join('; ')}`,
    );
  return [...events];
}

interface TargetStatus {
  key: string;
  healthy: boolean;
  registered: boolean;
}

/** This target's entries (`<listener>/<target id>`) in the status events of every NLB node. */
function targetStatus(events: readonly AgentEvent[], target: string): TargetStatus[] {
  return events.flatMap((e) =>
    ((e['targets'] as TargetStatus[] | undefined) ?? []).filter((t) => t.key.endsWith(`/${target}`)),
  );
}

/**
 * Health checks of a target are overridden to fail: every NLB node stops sending it new flows
 * (unless every target is unhealthy: the NLB fails open) and resets its existing connections.
 * Revert clears the override, so the measured health applies again at once.
 */
export class TargetUnhealthy extends BaseFault {
  readonly kind = 'target-unhealthy';
  readonly label: string;
  /** The target's status on every NLB node before apply. */
  before: TargetStatus[] | undefined;
  private forced = false;

  constructor(
    readonly lbName: string,
    readonly target: string,
  ) {
    super();
    this.label = `${target} unhealthy in ${lbName}`;
  }

  hosts(ctx: ChaosContext): string[] {
    return nlbHosts(ctx, this.lbName);
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const nlb = ctx.nlb(this.lbName);
    this.before = targetStatus(throwOnError(this.label, await nlb.status()), this.target);
    this.note(`${this.lbName}: {"cmd":"force-health","target":"${this.target}","healthy":false}`);
    this.forced = true;
    throwOnError(this.label, await nlb.forceHealth(this.target, false));
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (!this.forced) return;
    this.note(`${this.lbName}: {"cmd":"force-health","target":"${this.target}","healthy":null}`);
    throwOnError(this.label, await ctx.nlb(this.lbName).forceHealth(this.target, null));
    this.forced = false;
  }
}

/**
 * `via: 'nlb'` (default): the NLB's view is overridden (TargetUnhealthy). `via: 'readiness'`: the
 * target fails for real, its endpoint pods reported not Ready, so kube-proxy's health check node
 * port answers 503 (TargetNotReady; through the real kube-proxy when the cell runs on it).
 */
export function targetUnhealthy(
  lbName: string,
  target: string,
  opts: { via?: 'nlb' | 'readiness' } = {},
): TargetUnhealthy | TargetNotReady {
  return opts.via === 'readiness' ? new TargetNotReady(lbName, target) : new TargetUnhealthy(lbName, target);
}

export interface DeregisterOptions {
  /** Reset the target's existing connections (default true: as the NLB does when it drops a target). */
  reset?: boolean;
}

/** A target deregistered from its target groups (no new flows; connections reset), then registered again. */
export class Deregister extends BaseFault {
  readonly kind = 'deregister';
  readonly label: string;
  before: TargetStatus[] | undefined;
  private deregistered = false;

  constructor(
    readonly lbName: string,
    readonly target: string,
    readonly opts: DeregisterOptions = {},
  ) {
    super();
    this.label = `${target} deregistered from ${lbName}`;
  }

  hosts(ctx: ChaosContext): string[] {
    return nlbHosts(ctx, this.lbName);
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const nlb = ctx.nlb(this.lbName);
    this.before = targetStatus(throwOnError(this.label, await nlb.status()), this.target);
    // Already deregistered everywhere: nothing to do, nothing to restore.
    if (this.before.length > 0 && this.before.every((t) => !t.registered)) return;
    const reset = this.opts.reset ?? true;
    this.note(`${this.lbName}: {"cmd":"deregister","target":"${this.target}","reset":${reset}}`);
    this.deregistered = true;
    throwOnError(this.label, await nlb.deregister(this.target, { reset }));
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (!this.deregistered) return;
    this.note(`${this.lbName}: {"cmd":"register","target":"${this.target}"}`);
    throwOnError(this.label, await ctx.nlb(this.lbName).register(this.target));
    this.deregistered = false;
  }
}

export function deregister(lbName: string, target: string, opts: DeregisterOptions = {}): Deregister {
  return new Deregister(lbName, target, opts);
}
