/**
 * Seed 002: a policy-routing ENI CNI whose secondary ENI (eth1) carries no address; a pod on eth1
 * reaches a LoadBalancer IP that kube-proxy DNATs and masquerades. Matrix: rp_filter on the primary
 * interface x the seed's mark-based fix x the ENI source/destination check on eth1 (off in the
 * seed's cloud, on by default on EC2).
 */
import type { CellSpec, SuiteSpec } from '../lib/scenario/cell.js';
import { example, named } from './support/documents.js';
import { allTimeOut, rpFilterDrop, rpMode, sourceDestCheckDrop } from './support/expect.js';

const SUITE = 'lb-snat-policy-routing';
const SEEDS = ['002'];
const NODE = 'node-1';

interface Config {
  rp: 0 | 1 | 2;
  fix: boolean;
  sourceDestCheck: boolean;
}

function predict(c: Config): Pick<CellSpec, 'expect' | 'pathWorks' | 'explanation'> {
  const works = {
    pathWorks: true,
    expect: { outcome: { kind: 'all', outcome: 'connected' }, sourceSeen: { node: NODE } },
  } as const;
  if (c.fix) {
    return {
      ...works,
      explanation:
        "The fix routes what kube-proxy marked for masquerade (0x4000) by main, out of eth0 with eth0's address, " +
        `and restores the mark on the reply; with src_valid_mark the reverse-path check on eth0 uses it, so rp_filter=${c.rp} ` +
        `(${rpMode(c.rp)}) accepts the SYN-ACK${c.sourceDestCheck ? " and the source/destination check sees eth0's own address" : ''}.`,
    };
  }
  const walk =
    'The SYN is routed before masquerade: rule 2000 (`from <pod> lookup 1003`) sends it out of eth1, and ' +
    "MASQUERADE, finding no address on eth1, takes eth0's.";
  if (c.sourceDestCheck) {
    return {
      pathWorks: false,
      expect: allTimeOut(sourceDestCheckDrop(`${NODE}/eth1`)),
      explanation: `${walk} With the source/destination check on, the VPC drops a packet leaving eth1 with eth0's address.`,
    };
  }
  if (c.rp === 1) {
    return {
      pathWorks: false,
      expect: allTimeOut(rpFilterDrop(NODE)),
      explanation:
        `${walk} The SYN-ACK comes back to eth0's address on eth0; after un-NAT its reverse path (to the pod, ` +
        'via rule 2000) is eth1, so strict rp_filter on eth0 drops it.',
    };
  }
  return {
    ...works,
    explanation:
      `${walk} The SYN-ACK returns on eth0 and rp_filter=${c.rp} (${rpMode(c.rp)}) does not insist on the same ` +
      'interface, so the asymmetric path works.',
  };
}

function topology(c: Config): unknown {
  const doc = example('seed-002-lb-snat-policy-routing');
  const node = named(doc['nodes'], NODE);
  node['cni'] = { profile: 'eni-policy-routing', masqReturnFix: c.fix };
  named(node['enis'], 'eth1')['sourceDestCheck'] = c.sourceDestCheck;
  node['sysctls'] = {
    all: { rp_filter: 0 },
    default: { rp_filter: 0 },
    interfaces: { eth0: { rp_filter: c.rp } },
  };
  return doc;
}

function cell(c: Config): CellSpec {
  return {
    suite: SUITE,
    id: `rp-${c.rp}.fix-${c.fix ? 'on' : 'off'}.sdc-${c.sourceDestCheck ? 'on' : 'off'}`,
    title:
      `eth0 rp_filter=${c.rp}, mark fix ${c.fix ? 'on' : 'off'}, eth1 source/dest check ` +
      `${c.sourceDestCheck ? 'on' : 'off'}: pod on address-less eth1 -> LoadBalancer IP`,
    seeds: SEEDS,
    configuration: { rp_filter: c.rp, fix: c.fix, sourceDestCheck: c.sourceDestCheck },
    topology: topology(c),
    flow: { from: 'client', to: { service: 'istio-system/gateway', via: 'loadBalancerIP' }, attempts: 24 },
    ...predict(c),
  };
}

export const lbSnatPolicyRoutingSuite: SuiteSpec = {
  id: SUITE,
  title: 'Pod on an address-less ENI to a LoadBalancer IP through masquerade and policy routing (seed 002)',
  seeds: SEEDS,
  rows: ['fix', 'sourceDestCheck'],
  columns: ['rp_filter'],
  cells: [false, true].flatMap((fix) =>
    [false, true].flatMap((sourceDestCheck) =>
      ([0, 1, 2] as const).map((rp) => cell({ rp, fix, sourceDestCheck })),
    ),
  ),
};
