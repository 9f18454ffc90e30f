/**
 * kube-proxy's iptables mode on one node, as `pkg/proxy/iptables/proxier.go` (v1.36) writes it:
 * the same chains, rules, comments and rule order, for every Service in the topology. Options are
 * those of the lab's real kube-proxy (EKS's add-on configuration, ../kube-proxy/config.ts):
 * masquerade bit 14, the local-traffic detector from the topology (`cluster.kubeProxy.detectLocal`:
 * `none`, EKS's, writes neither the masquerade of off-cluster traffic to a ClusterIP nor the
 * short-cut for pod traffic to a Local Service's external addresses; `clusterCIDR` writes both
 * with `cluster.clusterCIDR`), node ports on every local address except 127.0.0.0/8
 * (`localhostNodePorts: false`). Not emulated, because no Service traffic passes through them: the
 * KUBE-PROXY-CANARY chains, the nfacct match on the INVALID drop (a packet counter), the empty
 * KUBE-FIREWALL chain, and the apiserver's own `default/kubernetes` Service (no endpoints in the lab).
 * Not in the model: session affinity, external IPs, load balancer source ranges
 * (KUBE-PROXY-FIREWALL stays empty).
 *
 * Rule text is in iptables-save's canonical form (see rule-text.ts) and each table lists its
 * chains as iptables-save does (built-ins, then the others by name), so `lines(table)` equals a
 * dump of a namespace that holds only these rules.
 */
import { NotFoundError } from '../errors.js';
import type { Node, Topology } from '../model/topology.js';
import { Ruleset, type TableName } from '../netfilter/ruleset.js';
import { addrtype, comment, ctstate, dport, rule, statistic, type RuleSpec } from './rule-text.js';
import { servicePortView, type Endpoint, type ServicePortView } from './service-port.js';

export { endpointChain, servicePortChain, servicePortName, type ServiceChainPrefix } from './chain-names.js';

export const MASQUERADE_MARK = '0x4000';
/** Above this many endpoints kube-proxy drops the per-endpoint comments (`largeClusterMode`). */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

const SERVICES = 'KUBE-SERVICES';
const EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
const NODE_PORTS = 'KUBE-NODEPORTS';
const POSTROUTING = 'KUBE-POSTROUTING';
const MARK_MASQ = 'KUBE-MARK-MASQ';
const FORWARD = 'KUBE-FORWARD';
const PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';

const BUILTIN: Record<'nat' | 'filter', readonly string[]> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** `iptablesJumpChains`: [table, from, to, comment, only new connections]. */
const JUMPS: readonly [keyof typeof BUILTIN, string, string, string, boolean][] = [
  ['filter', 'INPUT', EXTERNAL_SERVICES, 'kubernetes externally-visible service portals', true],
  ['filter', 'FORWARD', EXTERNAL_SERVICES, 'kubernetes externally-visible service portals', true],
  ['filter', 'INPUT', NODE_PORTS, 'kubernetes health check service ports', false],
  ['filter', 'FORWARD', SERVICES, 'kubernetes service portals', true],
  ['filter', 'OUTPUT', SERVICES, 'kubernetes service portals', true],
  ['filter', 'FORWARD', FORWARD, 'kubernetes forwarding rules', false],
  ['filter', 'INPUT', PROXY_FIREWALL, 'kubernetes load balancer firewall', true],
  ['filter', 'OUTPUT', PROXY_FIREWALL, 'kubernetes load balancer firewall', true],
  ['filter', 'FORWARD', PROXY_FIREWALL, 'kubernetes load balancer firewall', true],
  ['nat', 'OUTPUT', SERVICES, 'kubernetes service portals', false],
  ['nat', 'PREROUTING', SERVICES, 'kubernetes service portals', false],
  ['nat', 'POSTROUTING', POSTROUTING, 'kubernetes postrouting rules', false],
];

export function kubeProxyRuleset(topology: Topology, nodeName: string): Ruleset {
  const node = topology.nodes.find((n) => n.name === nodeName);
  if (!node)
    throw new NotFoundError(
      `kube-proxy: no node "${nodeName}" in topology ${topology.name} (nodes: ${topology.nodes.map((n) => n.name).join(', ')})`,
    );
  const ports = topology.services.flatMap((s) => s.ports.map((p) => servicePortView(s, p, nodeName)));
  const totalEndpoints = ports.reduce((sum, p) => sum + p.clusterEndpoints.length, 0);
  const w: Writer = {
    nat: new TableWriter('nat', [SERVICES, NODE_PORTS, POSTROUTING, MARK_MASQ]),
    filter: new TableWriter('filter', [SERVICES, EXTERNAL_SERVICES, FORWARD, NODE_PORTS, PROXY_FIREWALL]),
    clusterCIDR: topology.clusterCIDR.text,
    detectLocal: topology.kubeProxy.detectLocal === 'clusterCIDR',
    largeCluster: totalEndpoints > LARGE_CLUSTER_ENDPOINTS,
  };

  // kube-proxy prepends each jump (EnsureRule(Prepend)), so a chain lists them in reverse.
  for (const [table, from, to, text, onlyNew] of JUMPS)
    w[table].prepend(
      from,
      rule({ matches: [...(onlyNew ? [ctstate('NEW')] : []), comment(text)], target: to }),
    );

  const masq = `${MASQUERADE_MARK}/${MASQUERADE_MARK}`;
  w.nat.add(POSTROUTING, rule({ matches: [`-m mark ! --mark ${masq}`], target: 'RETURN' }));
  w.nat.add(POSTROUTING, rule({ target: `MARK --set-xmark ${MASQUERADE_MARK}/0x0` })); // --xor-mark 0x4000
  w.nat.add(
    POSTROUTING,
    rule({
      matches: [comment('kubernetes service traffic requiring SNAT')],
      target: 'MASQUERADE --random-fully',
    }),
  );
  w.nat.add(MARK_MASQ, rule({ target: `MARK --set-xmark ${masq}` })); // --or-mark 0x4000

  for (const p of ports) writeServicePort(w, p);

  w.nat.add(
    SERVICES,
    rule({
      // localhostNodePorts false: not for 127.0.0.0/8 (no route_localnet on the node).
      notDestination: '127.0.0.0/8',
      matches: [
        comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain'),
        addrtype('dst', 'LOCAL'),
      ],
      target: NODE_PORTS,
    }),
  );
  if (!conntrackLiberal(node)) w.filter.add(FORWARD, rule({ matches: [ctstate('INVALID')], target: 'DROP' }));
  w.filter.add(
    FORWARD,
    rule({ matches: [comment('kubernetes forwarding rules'), `-m mark --mark ${masq}`], target: 'ACCEPT' }),
  );
  w.filter.add(
    FORWARD,
    rule({
      matches: [comment('kubernetes forwarding conntrack rule'), ctstate('RELATED,ESTABLISHED')],
      target: 'ACCEPT',
    }),
  );

  const ruleset = new Ruleset();
  w.nat.flush(ruleset);
  w.filter.flush(ruleset);
  return ruleset;
}

interface Writer {
  nat: TableWriter;
  filter: TableWriter;
  clusterCIDR: string;
  /** A local-traffic detector is configured (detectLocal clusterCIDR). */
  detectLocal: boolean;
  largeCluster: boolean;
}

/** The body of syncProxyRules' loop over service ports. */
function writeServicePort(w: Writer, p: ServicePortView): void {
  const { name, protocol, service, port } = p;
  const clusterIP: RuleSpec = {
    destination: service.clusterIP,
    protocol,
    matches: [comment(`${name} cluster IP`), dport(protocol, port.port)],
    target: p.svcChain,
  };
  // Either no endpoints at all (REJECT) or none on this node for Local external traffic (DROP
  // whatever the EXT chain did not short-circuit).
  const filterTarget = !p.hasEndpoints ? 'REJECT --reject-with icmp-port-unreachable' : 'DROP';
  const filterComment = comment(`${name} ${p.hasEndpoints ? 'has no local endpoints' : 'has no endpoints'}`);

  if (p.hasEndpoints) w.nat.add(SERVICES, rule(clusterIP));
  else
    w.filter.add(
      SERVICES,
      rule({ ...clusterIP, matches: [filterComment, dport(protocol, port.port)], target: filterTarget }),
    );

  for (const lbIP of service.loadBalancerIPs) {
    if (p.hasEndpoints)
      w.nat.add(
        SERVICES,
        rule({
          destination: lbIP,
          protocol,
          matches: [comment(`${name} loadbalancer IP`), dport(protocol, port.port)],
          target: p.extChain,
        }),
      );
  }
  if (!p.hasExternalEndpoints)
    for (const lbIP of service.loadBalancerIPs)
      w.filter.add(
        EXTERNAL_SERVICES,
        rule({
          destination: lbIP,
          protocol,
          matches: [filterComment, dport(protocol, port.port)],
          target: filterTarget,
        }),
      );

  if (port.nodePort !== undefined) {
    if (p.hasEndpoints)
      w.nat.add(
        NODE_PORTS,
        rule({ protocol, matches: [comment(name), dport(protocol, port.nodePort)], target: p.extChain }),
      );
    if (!p.hasExternalEndpoints)
      w.filter.add(
        EXTERNAL_SERVICES,
        rule({
          protocol,
          matches: [filterComment, addrtype('dst', 'LOCAL'), dport(protocol, port.nodePort)],
          target: filterTarget,
        }),
      );
  }

  if (service.healthCheckNodePort !== undefined)
    w.filter.add(
      NODE_PORTS,
      rule({
        protocol: 'tcp',
        matches: [comment(`${name} health check node port`), dport('tcp', service.healthCheckNodePort)],
        target: 'ACCEPT',
      }),
    );

  if (!p.hasEndpoints) return;

  // Masquerade off-cluster traffic to the cluster IP: only with a local-traffic detector.
  if (w.detectLocal)
    w.nat.add(p.svcChain, rule({ ...clusterIP, notSource: w.clusterCIDR, target: 'KUBE-MARK-MASQ' }));

  if (p.externallyAccessible) writeExternalChain(w, p);
  writeEndpointSelection(w, p, p.svcChain, p.clusterEndpoints);
  if (p.localEndpoints.length > 0) writeEndpointSelection(w, p, p.svlChain, p.localEndpoints);

  for (const ep of p.clusterEndpoints) {
    const c = w.largeCluster ? [] : [comment(name)];
    w.nat.add(ep.chain, rule({ source: ep.ip, matches: c, target: MARK_MASQ }));
    w.nat.add(
      ep.chain,
      rule({ protocol, matches: [...c, `-m ${protocol}`], target: `DNAT --to-destination ${ep.text}` }),
    );
  }
}

/** KUBE-EXT-*: where NodePort and load balancer traffic goes before the policy chain. */
function writeExternalChain(w: Writer, p: ServicePortView): void {
  const ext = p.extChain;
  w.nat.declare(ext);
  if (!p.externalPolicyLocal) {
    // Endpoints may be on other nodes: masquerade in case the traffic crosses nodes.
    w.nat.add(
      ext,
      rule({
        matches: [comment(`masquerade traffic for ${p.name} external destinations`)],
        target: MARK_MASQ,
      }),
    );
  } else {
    // With a local-traffic detector, pod traffic to an external destination skips the policy, as
    // if it went out to the load balancer and came back (without one, a pod's traffic is treated
    // as external: local endpoints only, source kept). Node-originated traffic is masqueraded (its
    // source would be the node, or the load balancer IP itself) and also goes to any endpoint.
    if (w.detectLocal)
      w.nat.add(
        ext,
        rule({
          source: w.clusterCIDR,
          matches: [comment(`pod traffic for ${p.name} external destinations`)],
          target: p.svcChain,
        }),
      );
    w.nat.add(
      ext,
      rule({
        matches: [
          comment(`masquerade LOCAL traffic for ${p.name} external destinations`),
          addrtype('src', 'LOCAL'),
        ],
        target: MARK_MASQ,
      }),
    );
    w.nat.add(
      ext,
      rule({
        matches: [
          comment(`route LOCAL traffic for ${p.name} external destinations`),
          addrtype('src', 'LOCAL'),
        ],
        target: p.svcChain,
      }),
    );
  }
  if (p.hasExternalEndpoints)
    w.nat.add(ext, rule({ target: p.externalPolicyLocal ? p.svlChain : p.svcChain }));
}

/** `writeServiceToEndpointRules`: endpoint i of n taken with probability 1/(n-i), the last always. */
function writeEndpointSelection(
  w: Writer,
  p: ServicePortView,
  chain: string,
  endpoints: readonly Endpoint[],
): void {
  w.nat.declare(chain);
  endpoints.forEach((ep, i) => {
    const matches = w.largeCluster ? [] : [comment(`${p.name} -> ${ep.text}`)];
    if (i < endpoints.length - 1) matches.push(statistic(endpoints.length - i));
    w.nat.add(chain, rule({ matches, target: ep.chain }));
  });
}

function conntrackLiberal(node: Node): boolean {
  const v = node.sysctls.other['net.netfilter.nf_conntrack_tcp_be_liberal'];
  return v !== undefined && Number(v) !== 0;
}

/** Collects rules per chain, then hands them to a Ruleset in iptables-save's chain order. */
class TableWriter {
  private readonly chains = new Map<string, string[]>();

  constructor(
    private readonly table: TableName & keyof typeof BUILTIN,
    custom: readonly string[],
  ) {
    for (const c of [...BUILTIN[table], ...custom]) this.declare(c);
  }

  declare(chain: string): string[] {
    let rules = this.chains.get(chain);
    if (!rules) this.chains.set(chain, (rules = []));
    return rules;
  }

  add(chain: string, text: string): void {
    this.declare(chain).push(text);
  }

  prepend(chain: string, text: string): void {
    this.declare(chain).unshift(text);
  }

  flush(into: Ruleset): void {
    const builtin = BUILTIN[this.table];
    const custom = [...this.chains.keys()].filter((c) => !builtin.includes(c)).sort();
    for (const c of custom) into.chain(this.table, c);
    for (const c of [...builtin, ...custom])
      for (const r of this.chains.get(c) ?? []) into.append(this.table, c, r);
  }
}
