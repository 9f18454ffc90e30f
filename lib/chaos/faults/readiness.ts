/**
 * Readiness flips of a cluster: a pod reported not Ready (its readiness probe failing), or a pod
 * taken out of a Service (its labels no longer match). Every node's kube-proxy then drops it from
 * the Service's chains, and a Local Service's health check node port answers 503 on a node left
 * without a local endpoint, so the NLB's own health checks take that node out.
 *
 * Two forms, one behaviour:
 * - on real Kubernetes (the cell runs with the real kube-proxy) returnpath acts as the kubelet:
 *   it patches the Pod's status (or labels) through the API, and the real EndpointSlice controller
 *   and every real kube-proxy carry the change; apply and revert return once every kube-proxy has
 *   written it (its rules checked, not a sleep);
 * - emulated, the fault does what those would: it rewrites every node's kube-proxy chains for the
 *   changed endpoints (the jumps stay where they are) and tells each node's health check server
 *   its new local endpoint count. Revert restores the saved chains exactly and the original counts.
 */
import { NotFoundError } from '../../errors.js';
import { parseIptablesSave } from '../../evidence/iptables.js';
import { healthCheckServers } from '../../kube-proxy/healthcheck.js';
import { kubeProxyRuleset } from '../../kube-proxy/rules.js';
import type { LabKube } from '../../kube/lab-kube.js';
import type { Service, Topology } from '../../model/topology.js';
import { ownedRules, type OwnedRules } from '../iptables.js';
import { FaultError, type ChaosContext } from '../fault.js';
import { ChainFault } from './chain.js';

const isKube = (chain: string): boolean => chain.startsWith('KUBE-');
/** The process the lab starts for the emulated kube-proxy's health check node ports. */
export const HEALTH_CHECK_SERVER = 'kube-proxy health check server';

function findService(topology: Topology, ref: string): Service {
  const matches = topology.services.filter((s) => `${s.namespace}/${s.name}` === ref || s.name === ref);
  if (matches.length === 1) return matches[0]!;
  const known = topology.services.map((s) => `${s.namespace}/${s.name}`).join(', ') || 'none';
  throw new NotFoundError(
    matches.length > 1
      ? `service "${ref}" is ambiguous; use namespace/name (${known})`
      : `no service "${ref}" (have: ${known})`,
  );
}

function requirePod(topology: Topology, name: string): void {
  if (!topology.pods.some((p) => p.name === name))
    throw new NotFoundError(`no pod "${name}" (have: ${topology.pods.map((p) => p.name).join(', ')})`);
}

/**
 * The shared mechanism: what the change does to the topology's endpoints (emulated form) and
 * through the API (real form).
 */
abstract class ClusterEndpointsFault extends ChainFault {
  private saved: Map<string, OwnedRules> | undefined;
  private realApplied = false;

  /** The topology with the change applied (emulated form). */
  protected abstract changed(topology: Topology): Topology;
  protected abstract applyReal(kube: LabKube): Promise<void>;
  protected abstract revertReal(kube: LabKube): Promise<void>;

  hosts(ctx: ChaosContext): string[] {
    return ctx.topology.nodes.map((n) => `node/${n.name}`);
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    if (ctx.kube) {
      this.note(`as the kubelet: ${this.label} (through the API; then every kube-proxy syncs)`);
      this.realApplied = true;
      await this.applyReal(ctx.kube);
      await ctx.kube.waitSynced();
      return;
    }
    const changed = this.changed(ctx.topology);
    const saved = new Map<string, OwnedRules>();
    for (const node of ctx.topology.nodes) {
      const host = `node/${node.name}`;
      const state = await this.readIptables(ctx, host);
      const current = ownedRules(state.save, isKube);
      if (current.jumps.length === 0)
        throw new FaultError(this.label, `no kube-proxy rules on ${node.name} to change (wiped?)`);
      saved.set(host, current);
      this.saved = saved;
      const desired = ownedRules(
        parseIptablesSave(kubeProxyRuleset(changed, node.name).render(), 'kubeProxyRuleset'),
        isKube,
      );
      await this.syncOwned(ctx, host, isKube, { chains: desired.chains, jumps: current.jumps }, state);
    }
    this.tellHealthChecks(ctx, changed);
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (ctx.kube) {
      if (!this.realApplied) return;
      await this.revertReal(ctx.kube);
      await ctx.kube.waitSynced();
      this.realApplied = false;
      return;
    }
    if (!this.saved) return;
    for (const [host, rules] of this.saved) await this.syncOwned(ctx, host, isKube, rules);
    this.tellHealthChecks(ctx, ctx.topology);
  }

  /** The emulated health check servers' local endpoint counts, as kube-proxy would serve them. */
  private tellHealthChecks(ctx: ChaosContext, topology: Topology): void {
    for (const node of topology.nodes) {
      const server = ctx.hostProcess?.(`node/${node.name}`, HEALTH_CHECK_SERVER);
      if (!server?.stdin) continue;
      for (const c of healthCheckServers(topology, node.name)) {
        const line = JSON.stringify({ port: c.port, localEndpoints: c.localEndpoints });
        this.note(`node/${node.name} health check server: ${line}`);
        server.stdin.write(`${line}\n`);
      }
    }
  }
}

/** `pods` reported not Ready by their kubelet; revert: Ready again. */
export class PodNotReady extends ClusterEndpointsFault {
  readonly kind: string = 'pod-not-ready';
  readonly label: string;

  constructor(readonly pods: readonly string[]) {
    super();
    this.label = `${pods.join(', ')} not Ready`;
  }

  /** The pods to flip (resolved against the topology when applied). */
  protected podsOf(topology: Topology): readonly string[] {
    this.pods.forEach((p) => requirePod(topology, p));
    return this.pods;
  }

  protected changed(topology: Topology): Topology {
    const pods = this.podsOf(topology);
    return {
      ...topology,
      services: topology.services.map((s) => ({
        ...s,
        endpoints: s.endpoints.filter((e) => !pods.includes(e.name)),
      })),
    };
  }

  protected async applyReal(kube: LabKube): Promise<void> {
    for (const p of this.podsOf(kube.topology)) await kube.setPodReady(p, false);
  }

  protected async revertReal(kube: LabKube): Promise<void> {
    for (const p of this.podsOf(kube.topology)) await kube.setPodReady(p, true);
  }
}

/** A Service's endpoints become exactly `endpoints` (pod names) everywhere; revert: as before. */
export class ServiceEndpointsChange extends ClusterEndpointsFault {
  readonly kind = 'service-endpoints-change';
  readonly label: string;
  private before: string[] | undefined;

  constructor(
    readonly service: string,
    readonly endpoints: readonly string[],
  ) {
    super();
    this.label = `endpoints of ${service}: ${endpoints.length ? endpoints.join(', ') : 'none'} (cluster-wide)`;
  }

  protected changed(topology: Topology): Topology {
    const svc = findService(topology, this.service);
    this.endpoints.forEach((p) => requirePod(topology, p));
    const pods = this.endpoints.map((n) => topology.pods.find((p) => p.name === n)!);
    return {
      ...topology,
      services: topology.services.map((s) => (s === svc ? { ...s, endpoints: pods } : s)),
    };
  }

  protected async applyReal(kube: LabKube): Promise<void> {
    const svc = findService(kube.topology, this.service);
    this.endpoints.forEach((p) => requirePod(kube.topology, p));
    this.before = kube.members(svc);
    await kube.setMembers(svc, this.endpoints);
  }

  protected async revertReal(kube: LabKube): Promise<void> {
    if (this.before) await kube.setMembers(findService(kube.topology, this.service), this.before);
  }
}

export function podNotReady(...pods: string[]): PodNotReady {
  return new PodNotReady(pods);
}

export function serviceEndpointsChange(
  service: string,
  endpoints: readonly string[],
): ServiceEndpointsChange {
  return new ServiceEndpointsChange(service, endpoints);
}

/**
 * An NLB instance target made unhealthy for real: the endpoint pods of the target's Service on
 * that node are reported not Ready, so its health check node port answers 503 (a Local Service)
 * and the NLB's health checks fail on their own.
 */
export class TargetNotReady extends PodNotReady {
  override readonly kind = 'target-not-ready';
  override readonly label: string;

  constructor(
    readonly lbName: string,
    readonly target: string,
  ) {
    super([]);
    this.label = `${target} unhealthy in ${lbName} (its endpoint pods not Ready)`;
  }

  protected override podsOf(topology: Topology): readonly string[] {
    const m = /^node\/([^:]+):(\d+)$/.exec(this.target);
    if (!m)
      throw new NotFoundError(
        `target "${this.target}": a readiness flip needs an instance target node/NAME:NODEPORT (an ip target's health check does not pass kube-proxy)`,
      );
    if (!topology.loadBalancers.some((l) => l.name === this.lbName))
      throw new NotFoundError(`no load balancer "${this.lbName}"`);
    const service = topology.services.find((s) => s.ports.some((p) => p.nodePort === Number(m[2])));
    if (!service) throw new NotFoundError(`no Service has node port ${m[2]}`);
    const pods = service.endpoints.filter((p) => p.node === m[1]).map((p) => p.name);
    if (pods.length === 0) throw new NotFoundError(`${service.name} has no endpoint on ${m[1]}`);
    return pods;
  }
}
