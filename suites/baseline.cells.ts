/**
 * Seed 003: the normal packet paths of EKS with the VPC CNI. Every path connects, and the server
 * sees the source the documentation describes: the pod itself inside the VPC, the node behind
 * masquerade (Cluster policy, pod egress), the client with Local policy or client IP preservation,
 * the NLB node without it. One path is closed by design: a Local NodePort on a node without an endpoint.
 */
import type { CellExpect, CellSpec, Destination, SuiteSpec } from '../lib/scenario/cell.js';
import { example, named, type Doc } from './support/documents.js';

const SUITE = 'baseline';
const SEEDS = ['003'];

/**
 * seed-003, plus the internet-facing NLB the path goes through (one per target kind, in front of
 * the two Services); paths without an NLB get none, which keeps their labs small.
 */
function topology(nlbName?: string): Doc {
  const doc = example('seed-003-baseline');
  named(doc['services'], 'web')['type'] = 'LoadBalancer';
  const hc = { intervalSeconds: 1, timeoutSeconds: 0.5 };
  const nlb = (name: string, a: string, b: string, tg: Doc): Doc => ({
    name,
    scheme: 'internet-facing',
    crossZone: true,
    nodes: [
      { zone: 'az-a', address: `10.0.1.${a}`, publicAddress: `198.51.100.${a}` },
      { zone: 'az-b', address: `10.0.2.${b}`, publicAddress: `198.51.100.${b}` },
    ],
    listeners: [{ port: 80, targetGroup: tg['name'] }],
    targetGroups: [{ ...tg, healthCheck: hc }],
  });
  const all = [
    nlb('nlb-cluster', '200', '201', { name: 'web', targetType: 'instance', service: 'demo/web:http' }),
    nlb('nlb-local', '202', '203', {
      name: 'web-local',
      targetType: 'instance',
      service: 'demo/web-local:http',
    }),
    nlb('nlb-ip', '204', '205', {
      name: 'web-ip',
      targetType: 'ip',
      targets: [
        { pod: 'web-1', port: 8080 },
        { pod: 'web-2', port: 8080 },
      ],
    }),
    nlb('nlb-ip-preserve', '206', '207', {
      name: 'web-ip-preserve',
      targetType: 'ip',
      preserveClientIp: true,
      targets: [
        { pod: 'web-1', port: 8080 },
        { pod: 'web-2', port: 8080 },
      ],
    }),
  ];
  doc['loadBalancers'] = all.filter((l) => l['name'] === nlbName);
  return doc;
}

interface Path {
  id: string;
  path: string;
  from: string;
  to: Destination;
  expect: CellExpect;
  pathWorks?: boolean;
  mechanism?: string;
  explanation: string;
}

const connected = { kind: 'all', outcome: 'connected' } as const;

const PATHS: Path[] = [
  {
    id: 'pod-to-pod.same-node',
    path: 'pod to pod, same node',
    from: 'client-a',
    to: { pod: 'web-1', port: 8080 },
    expect: { outcome: connected, sourceSeen: 'client' },
    explanation:
      "Rule 512 (`to <pod> lookup main`) sends the packet to the pod's host veth; no NAT on the way.",
  },
  {
    id: 'pod-to-pod.cross-node',
    path: 'pod to pod, across nodes (secondary ENIs)',
    from: 'client-a',
    to: { pod: 'web-2', port: 8080 },
    expect: { outcome: connected, sourceSeen: 'client' },
    explanation:
      "client-a's address is on node-a's eth1: rule 1536 sends its traffic out of eth1; the VPC delivers it to " +
      "node-b's eth1, which owns web-2's address; inside the VPC nothing is translated.",
  },
  {
    id: 'clusterip',
    path: 'ClusterIP',
    from: 'client-b',
    to: { service: 'demo/web', via: 'clusterIP' },
    expect: { outcome: connected, sourceSeen: 'client' },
    explanation:
      'kube-proxy DNATs the ClusterIP to an endpoint; a source inside the cluster CIDR is not masqueraded.',
  },
  {
    id: 'pod-egress.internet',
    path: 'pod egress to the internet',
    from: 'client-a',
    to: { internet: 'laptop', port: 8080 },
    expect: { outcome: connected, sourceSeen: { node: 'node-a' } },
    explanation:
      'The CNI connmarks the outbound connection (0x80), rule 1024 routes it by main out of eth0 although the pod ' +
      "lives on eth1, SNAT takes eth0's address and the internet gateway maps it to the node's Elastic IP.",
  },
  {
    id: 'nodeport.cluster',
    path: 'NodePort, externalTrafficPolicy Cluster, from the internet',
    from: 'laptop',
    to: { service: 'demo/web', via: 'nodePort', node: 'node-a' },
    expect: { outcome: connected, sourceSeen: { node: 'node-a' } },
    explanation:
      'Cluster policy masquerades (KUBE-EXT → KUBE-MARK-MASQ): the endpoint sees the node the client called.',
  },
  {
    id: 'nodeport.local',
    path: 'NodePort, externalTrafficPolicy Local, node with an endpoint',
    from: 'laptop',
    to: { service: 'demo/web-local', via: 'nodePort', node: 'node-a' },
    expect: { outcome: connected, sourceSeen: 'client' },
    explanation:
      'Local policy sends external traffic to a local endpoint only (KUBE-SVL), without masquerade.',
  },
  {
    id: 'nodeport.local.no-endpoint',
    path: 'NodePort, externalTrafficPolicy Local, node without an endpoint',
    from: 'laptop',
    to: { service: 'demo/web-local', via: 'nodePort', node: 'node-b' },
    expect: {
      outcome: { kind: 'all', outcome: 'timeout' },
      evidence: [{ kind: 'drop', host: 'node-b', reason: 'rule' }],
    },
    pathWorks: false,
    mechanism: 'no local endpoint',
    explanation:
      'node-b has no local endpoint: kube-proxy drops the traffic in KUBE-EXTERNAL-SERVICES ("has no local ' +
      'endpoints"); the NLB health check node port answers 503 so an NLB never sends it there.',
  },
  {
    id: 'nlb.instance.cluster',
    path: 'NLB, instance targets, Cluster',
    from: 'laptop',
    to: { nlb: 'nlb-cluster', port: 80 },
    expect: { outcome: connected, sourceSeen: { anyNode: true } },
    explanation:
      'The NLB keeps the client address (instance targets preserve it by default); Cluster policy then ' +
      'masquerades at the node, so the endpoint sees a node and the reply returns through it.',
  },
  {
    id: 'nlb.instance.local',
    path: 'NLB, instance targets, Local',
    from: 'laptop',
    to: { nlb: 'nlb-local', port: 80 },
    expect: { outcome: connected, sourceSeen: 'client' },
    explanation:
      'Only node-a has an endpoint, so only it passes the health check node port; the client address is ' +
      'preserved end to end and the reply crosses the VPC back to the NLB.',
  },
  {
    id: 'nlb.ip',
    path: 'NLB, ip targets',
    from: 'laptop',
    to: { nlb: 'nlb-ip', port: 80 },
    expect: { outcome: connected, sourceSeen: { nlb: 'nlb-ip' } },
    explanation:
      'ip targets do not preserve the client address for TCP by default: the pod sees the NLB node.',
  },
  {
    id: 'nlb.ip.preserve',
    path: 'NLB, ip targets, client IP preservation on',
    from: 'laptop',
    to: { nlb: 'nlb-ip-preserve', port: 80 },
    expect: { outcome: connected, sourceSeen: 'client' },
    explanation:
      'With preservation the pod sees the internet client; with the current CNI its reply leaves through the ENI ' +
      'that owns the pod (rule 1536), even for web-2 on a secondary ENI, and the VPC returns it to the NLB.',
  },
];

function cell(p: Path): CellSpec {
  return {
    suite: SUITE,
    id: p.id,
    title: `${p.path}: ${p.from} -> ${'pod' in p.to ? p.to.pod : 'nlb' in p.to ? p.to.nlb : 'internet' in p.to ? p.to.internet : p.to.service}`,
    seeds: SEEDS,
    configuration: { path: p.path },
    topology: topology('nlb' in p.to ? p.to.nlb : undefined),
    flow: { from: p.from, to: p.to, attempts: 24 },
    expect: p.expect,
    pathWorks: p.pathWorks ?? true,
    ...(p.mechanism && { mechanism: p.mechanism }),
    explanation: p.explanation,
  };
}

export const baselineSuite: SuiteSpec = {
  id: SUITE,
  title: 'The normal packet paths of EKS with the VPC CNI (seed 003)',
  seeds: SEEDS,
  rows: ['path'],
  columns: [],
  cells: PATHS.map(cell),
};
