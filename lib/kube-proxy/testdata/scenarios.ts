/**
 * Topologies for the kube-proxy golden and integration tests: one Service each, rendered for
 * one node. The first is the example of reference.md section 2.
 */
import { validateTopology, type Topology } from '../../model/topology.js';
import type { TopologyInput } from '../../model/schema.js';

export interface Scenario {
  /** Golden file name without extension. */
  name: string;
  node: string;
  topology: Topology;
}

type ServiceInput = NonNullable<TopologyInput['services']>[number];

export function topologyWith(
  services: ServiceInput[],
  detectLocal: 'none' | 'clusterCIDR' = 'none',
): Topology {
  return validateTopology({
    apiVersion: 'returnpath/v1',
    kind: 'Topology',
    metadata: { name: 'kube-proxy-test' },
    vpc: {
      cidrs: ['10.0.0.0/16'],
      zones: [
        { name: 'zone-a', subnets: [{ name: 'subnet-a', cidr: '10.0.1.0/24' }] },
        { name: 'zone-b', subnets: [{ name: 'subnet-b', cidr: '10.0.2.0/24' }] },
      ],
    },
    defaults: { cni: { profile: 'none' } },
    nodes: [
      { name: 'node-a', subnet: 'subnet-a', enis: [{ name: 'eth0', address: '10.0.1.10' }] },
      { name: 'node-b', subnet: 'subnet-b', enis: [{ name: 'eth0', address: '10.0.2.10' }] },
      { name: 'node-c', subnet: 'subnet-b', enis: [{ name: 'eth0', address: '10.0.2.11' }] },
    ],
    pods: [
      { name: 'web-1', node: 'node-a', address: '10.0.1.15' },
      { name: 'web-2', node: 'node-b', address: '10.0.2.77' },
      { name: 'web-3', node: 'node-b', address: '10.0.2.78' },
    ],
    services,
    cluster: { kubeProxy: { detectLocal } },
  } satisfies TopologyInput);
}

const web = {
  namespace: 'demo',
  name: 'web',
  clusterIP: '172.20.10.10',
  ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
  endpoints: ['web-1', 'web-2'],
};
const localWeb: ServiceInput = {
  ...web,
  type: 'LoadBalancer',
  externalTrafficPolicy: 'Local',
  healthCheckNodePort: 32000,
};

export const scenarios: readonly Scenario[] = [
  { name: 'cluster-policy', node: 'node-a', topology: topologyWith([{ ...web, type: 'NodePort' }]) },
  {
    name: 'cluster-policy.detect-cluster-cidr',
    node: 'node-a',
    topology: topologyWith([{ ...web, type: 'NodePort' }], 'clusterCIDR'),
  },
  { name: 'local-policy-local-endpoint', node: 'node-a', topology: topologyWith([localWeb]) },
  {
    name: 'local-policy-local-endpoint.detect-cluster-cidr',
    node: 'node-a',
    topology: topologyWith([localWeb], 'clusterCIDR'),
  },
  { name: 'local-policy-no-local-endpoint', node: 'node-c', topology: topologyWith([localWeb]) },
  {
    name: 'local-policy-no-local-endpoint.detect-cluster-cidr',
    node: 'node-c',
    topology: topologyWith([localWeb], 'clusterCIDR'),
  },
  {
    name: 'load-balancer-ip',
    node: 'node-a',
    topology: topologyWith([{ ...web, type: 'LoadBalancer', loadBalancerIPs: ['10.0.1.100'] }]),
  },
  {
    name: 'no-endpoints',
    node: 'node-a',
    topology: topologyWith([{ ...web, type: 'LoadBalancer', loadBalancerIPs: ['10.0.1.100'], endpoints: [] }]),
  },
  {
    name: 'udp',
    node: 'node-a',
    topology: topologyWith([
      {
        namespace: 'kube-system',
        name: 'dns',
        type: 'ClusterIP',
        clusterIP: '172.20.0.10',
        ports: [
          { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
          { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
        ],
        endpoints: ['web-1', 'web-2', 'web-3'],
      },
    ]),
  },
];
