/**
 * A cell's topology as a cluster realized it: the addresses the cluster chose (pod IPs, ClusterIPs,
 * node ports) written into the cell's topology document, which is then validated again, so that
 * everything derived from it (flow destinations, the sources a server should see, NLB targets and
 * their expected health, kube-proxy's expected rules) is about what really runs. Pure.
 */
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { cidrContains, intToIp, ipToInt, parseCidr } from '../model/ip.js';
import { validateTopology, type Topology } from '../model/topology.js';

const DEFAULT_SERVICE_CIDR = '172.20.0.0/16';

type Doc = Record<string, unknown>;

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** The cluster's choices, by the cell's names. */
export interface Realized {
  pods: ReadonlyMap<string, V1Pod>;
  /** By the cell's Service name. */
  services: ReadonlyMap<string, V1Service>;
}

export function effectiveTopology(doc: unknown, realized: Realized, what: string): Topology {
  const d = clone(doc) as Doc;
  for (const p of (d['pods'] as Doc[] | undefined) ?? []) {
    const ip = realized.pods.get(String(p['name']))?.status?.podIP;
    if (ip) p['address'] = ip;
  }
  for (const s of (d['services'] as Doc[] | undefined) ?? []) {
    const got = realized.services.get(String(s['name']));
    if (!got?.spec) continue;
    if (got.spec.clusterIP && got.spec.clusterIP !== 'None') s['clusterIP'] = got.spec.clusterIP;
    for (const p of (s['ports'] as Doc[] | undefined) ?? []) {
      const gp = got.spec.ports?.find((x) => x.port === p['port'] && (x.name ?? '') === (p['name'] ?? ''));
      if (gp?.nodePort !== undefined) p['nodePort'] = gp.nodePort;
    }
    if (got.spec.healthCheckNodePort !== undefined) s['healthCheckNodePort'] = got.spec.healthCheckNodePort;
  }
  // ClusterIPs the cluster assigned from its own range: the service CIDR becomes the smallest holding them.
  const cluster = ((d['cluster'] as Doc | undefined) ??= {});
  const range = parseCidr(String(cluster['serviceCIDR'] ?? DEFAULT_SERVICE_CIDR));
  const ips = ((d['services'] as Doc[] | undefined) ?? []).map((s) => String(s['clusterIP']));
  if (ips.some((ip) => !cidrContains(range, ip))) cluster['serviceCIDR'] = covering(ips);
  return validateTopology(d, `${what} as the cluster realized it`);
}

/** The smallest CIDR holding every address. */
export function covering(ips: readonly string[]): string {
  const ns = ips.map(ipToInt);
  const net = (n: number, p: number): number => (p === 0 ? 0 : Math.floor(n / 2 ** (32 - p)));
  let prefix = 32;
  while (prefix > 0 && !ns.every((n) => net(n, prefix) === net(ns[0]!, prefix))) prefix--;
  return `${intToIp(net(ns[0]!, prefix) * 2 ** (32 - prefix))}/${prefix}`;
}

/** The same topology with every Service in `namespace` (where the run created them), for kube-proxy's rule names. */
export function inNamespace(topology: Topology, namespace: string): Topology {
  return { ...topology, services: topology.services.map((s) => ({ ...s, namespace })) };
}
