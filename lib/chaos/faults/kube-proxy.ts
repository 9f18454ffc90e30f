/**
 * Faults of kube-proxy's iptables rules on a node: wiped (someone flushed the tables, or
 * `kube-proxy --cleanup` ran) and re-synced; an endpoint set changed and changed back.
 */
import { NotFoundError } from '../../errors.js';
import { parseIptablesSave } from '../../evidence/iptables.js';
import { kubeProxyRuleset } from '../../kube-proxy/rules.js';
import type { Service, Topology } from '../../model/topology.js';
import { countOwned, emptyOwned, ownedRules, type OwnedRules } from '../iptables.js';
import { FaultError, type ChaosContext } from '../fault.js';
import { ChainFault } from './chain.js';
import { ServiceEndpointsChange } from './readiness.js';

/** kube-proxy's chains (iptables mode); kubelet's KUBE-FIREWALL etc. are not emulated in the lab. */
const KUBE_CHAIN = /^KUBE-/;
const isKube = (chain: string): boolean => KUBE_CHAIN.test(chain);

function nodeName(ref: string): string {
  return ref.startsWith('node/') ? ref.slice('node/'.length) : ref;
}

/**
 * Removes every KUBE-* chain and every jump into one (nat and filter), and a real nftables-mode
 * kube-proxy's `kube-proxy` tables, as a flush of the tables or `kube-proxy --cleanup` leaves a
 * node: Services stop working on it (ClusterIP connections go to the ClusterIP itself and time
 * out, NodePorts are refused). Revert is kube-proxy's next sync: the saved chains come back with
 * their rules, and the jumps at their saved positions, in one `iptables-restore --noflush` that
 * leaves the CNI's rules alone (the nftables tables are loaded back as `nft list` printed them).
 */
export class KubeProxyWipe extends ChainFault {
  readonly kind = 'kube-proxy-wipe';
  readonly label: string;
  private readonly host: string;
  private saved: OwnedRules | undefined;
  /** kube-proxy in nftables mode: its tables (`nft list table` text), removed and restored whole. */
  private savedNft: { family: string; text: string }[] | undefined;

  constructor(node: string) {
    super();
    this.host = `node/${nodeName(node)}`;
    this.label = `kube-proxy rules wiped on ${nodeName(node)}`;
  }

  hosts(): string[] {
    return [this.host];
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const state = await this.readIptables(ctx, this.host);
    this.saved = ownedRules(state.save, isKube);
    // kube-proxy's nftables mode keeps everything in `table ip kube-proxy` (and ip6).
    const tables = (await this.run(ctx, this.host, ['nft', 'list', 'tables'])).stdout;
    const families = [...tables.matchAll(/^table (ip6?) kube-proxy$/gm)].map((m) => m[1]!);
    const saved: { family: string; text: string }[] = [];
    for (const family of families)
      saved.push({
        family,
        text: (await this.run(ctx, this.host, ['nft', 'list', 'table', family, 'kube-proxy'])).stdout,
      });
    this.savedNft = saved;
    await this.syncOwned(ctx, this.host, isKube, emptyOwned(), state);
    if (saved.length)
      await this.run(ctx, this.host, ['nft', '-f', '-'], {
        input: saved.map((t) => `delete table ${t.family} kube-proxy`).join('\n') + '\n',
      });
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (this.savedNft?.length)
      await this.run(ctx, this.host, ['nft', '-f', '-'], {
        input: this.savedNft.map((t) => t.text).join('\n'),
      });
    if (this.saved) await this.syncOwned(ctx, this.host, isKube, this.saved);
  }

  /** What was wiped, once applied. */
  get wiped(): { chains: number; rules: number; jumps: number } | undefined {
    return this.saved && countOwned(this.saved);
  }
}

export function kubeProxyWipe(node: string): KubeProxyWipe {
  return new KubeProxyWipe(node);
}

function findService(topology: Topology, ref: string): Service {
  const matches = topology.services.filter((s) => `${s.namespace}/${s.name}` === ref || s.name === ref);
  if (matches.length === 1) return matches[0]!;
  const known = topology.services.map((s) => `${s.namespace}/${s.name}`).join(', ') || 'none';
  if (matches.length > 1)
    throw new NotFoundError(`service "${ref}" is ambiguous; use namespace/name (${known})`);
  throw new NotFoundError(`no service "${ref}" (have: ${known})`);
}

/** The topology with `service`'s endpoints replaced by the named pods. */
export function withEndpoints(topology: Topology, service: string, endpoints: readonly string[]): Topology {
  const svc = findService(topology, service);
  const pods = endpoints.map((name) => {
    const p = topology.pods.find((x) => x.name === name);
    if (!p) throw new NotFoundError(`no pod "${name}" for the endpoints of ${svc.namespace}/${svc.name}`);
    return p;
  });
  return { ...topology, services: topology.services.map((s) => (s === svc ? { ...s, endpoints: pods } : s)) };
}

/**
 * kube-proxy on `node` syncs a changed endpoint set of `service` (pod names; [] = no endpoints:
 * ClusterIP connections are rejected, `refused`). The rules are kubeProxyRuleset() of the topology
 * with the new endpoints, applied as kube-proxy would (its chains replaced, the jumps kept where
 * they are); revert restores the saved chains exactly. Only the iptables rules change: the health
 * check node port server of a Local Service keeps answering for the original endpoints.
 */
export class EndpointsChange extends ChainFault {
  readonly kind = 'endpoints-change';
  readonly label: string;
  private readonly host: string;
  private readonly node: string;
  private saved: OwnedRules | undefined;

  constructor(
    node: string,
    readonly service: string,
    readonly endpoints: readonly string[],
  ) {
    super();
    this.node = nodeName(node);
    this.host = `node/${this.node}`;
    this.label = `endpoints of ${service} on ${this.node}: ${endpoints.length ? endpoints.join(', ') : 'none'}`;
  }

  hosts(): string[] {
    return [this.host];
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const ruleset = kubeProxyRuleset(withEndpoints(ctx.topology, this.service, this.endpoints), this.node);
    const desired = ownedRules(parseIptablesSave(ruleset.render(), 'kubeProxyRuleset'), isKube);
    const state = await this.readIptables(ctx, this.host);
    const saved = ownedRules(state.save, isKube);
    if (saved.jumps.length === 0)
      throw new FaultError(this.label, `no kube-proxy rules on ${this.node} to change (wiped?)`);
    this.saved = saved;
    // kube-proxy's jumps do not depend on endpoints: keep them where they are.
    await this.syncOwned(ctx, this.host, isKube, { chains: desired.chains, jumps: saved.jumps }, state);
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (this.saved) await this.syncOwned(ctx, this.host, isKube, this.saved);
  }
}

/**
 * `scope: 'node'` (default): one node's kube-proxy rules change (EndpointsChange). `scope:
 * 'cluster'`: the Service's endpoints change everywhere, as when a pod's labels stop matching
 * (ServiceEndpointsChange; through the API, the EndpointSlice controller and the real kube-proxy
 * when the cell runs on them). `node` is ignored for the cluster scope.
 */
export function endpointsChange(
  node: string,
  service: string,
  endpoints: readonly string[],
  opts: { scope?: 'node' | 'cluster' } = {},
): EndpointsChange | ServiceEndpointsChange {
  return opts.scope === 'cluster'
    ? new ServiceEndpointsChange(service, endpoints)
    : new EndpointsChange(node, service, endpoints);
}
