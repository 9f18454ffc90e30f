/**
 * The chaos tests' own small lab: seed 000's internet-facing NLB with ip targets and client IP
 * preservation, in the configuration that works (legacy CNI, rp_filter loose on the secondary ENI,
 * source/destination check off on eth0, so the reply to the internet leaves through eth0), plus a
 * second target so an NLB fault can move traffic rather than stop it.
 *
 *   listener 80 -> web-1 only (node-1, secondary ENI eth1): strict rp_filter on eth1 breaks it
 *   listener 81 -> web-1 and web-2 (node-2)
 */
import type { TopologyInput } from '../model/schema.js';

export const LB = 'web-nlb';
export const ZONE = 'az-a';
export const VIP = '198.51.100.200';
export const NLB_HOST = `nlb/${LB}/${ZONE}`;
export const CLIENT = 'curl-loop';
export const WEB1 = 'pod/web-1:8080';
export const WEB2 = 'pod/web-2:8080';

export function chaosTopology(): TopologyInput {
  // Short intervals keep the tests quick; three misses in a row before a target counts as
  // unhealthy, so a check delayed on a busy machine does not reset healthy targets' flows.
  const healthCheck = {
    intervalSeconds: 0.3,
    timeoutSeconds: 0.25,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
  };
  return {
    apiVersion: 'returnpath/v1',
    kind: 'Topology',
    metadata: { name: 'chaos-test' },
    vpc: {
      cidrs: ['10.0.0.0/16'],
      zones: [{ name: ZONE, subnets: [{ name: 'public-a', cidr: '10.0.1.0/24', public: true }] }],
    },
    defaults: { cni: { profile: 'vpc-cni-legacy' } },
    nodes: [
      {
        name: 'node-1',
        subnet: 'public-a',
        enis: [
          { name: 'eth0', address: '10.0.1.10', sourceDestCheck: false },
          { name: 'eth1', address: '10.0.1.20' },
        ],
        sysctls: { all: { rp_filter: 0 }, default: { rp_filter: 0 }, interfaces: { eth1: { rp_filter: 2 } } },
      },
      { name: 'node-2', subnet: 'public-a', enis: [{ name: 'eth0', address: '10.0.1.11' }] },
    ],
    pods: [
      { name: 'web-1', node: 'node-1', eni: 'eth1', address: '10.0.1.50' },
      { name: 'web-2', node: 'node-2', address: '10.0.1.51' },
    ],
    internet: { clients: [{ name: CLIENT, address: '203.0.113.10' }] },
    loadBalancers: [
      {
        name: LB,
        scheme: 'internet-facing',
        nodes: [{ zone: ZONE, address: '10.0.1.200', publicAddress: VIP }],
        listeners: [
          { port: 80, targetGroup: 'one' },
          { port: 81, targetGroup: 'both' },
        ],
        targetGroups: [
          {
            name: 'one',
            targetType: 'ip',
            preserveClientIp: true,
            targets: [{ pod: 'web-1', port: 8080 }],
            healthCheck,
          },
          {
            name: 'both',
            targetType: 'ip',
            preserveClientIp: true,
            targets: [
              { pod: 'web-1', port: 8080 },
              { pod: 'web-2', port: 8080 },
            ],
            healthCheck,
          },
        ],
      },
    ],
  };
}
