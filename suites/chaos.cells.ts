/**
 * Chaos: faults from the seeds' world applied while steady traffic flows (a batch of short
 * connections every 100 ms, plus long-lived ones), each reverted, with bounds on what they do:
 * failures outside and during the fault, how long the effect lasts, recovery, which long-lived
 * connections survive, who drops or resets. Every touched namespace is fingerprinted before and
 * after: a cell fails if anything is left changed.
 */
import { conntrackFlush } from '../lib/chaos/faults/conntrack.js';
import { packetLoss } from '../lib/chaos/faults/impair.js';
import { kubeProxyWipe } from '../lib/chaos/faults/kube-proxy.js';
import { deregister, nlbNodeLoss } from '../lib/chaos/faults/nlb.js';
import { linkDown, wipeRules } from '../lib/chaos/faults/routing.js';
import { rpFilter, sourcePortExhaustion } from '../lib/chaos/faults/sysctl.js';
import type { CellSpec, SuiteSpec } from '../lib/scenario/cell.js';
import { example, named, type Doc } from './support/documents.js';

const SUITE = 'chaos';
const DURATION = 4000;
const BATCH = { attempts: 4, everyMs: 100, deadlineMs: 250 };

/** Seed 000's node, in a configuration that works: legacy CNI, loose eth1 (all=0), check off. */
function seed000(cni: 'vpc-cni' | 'vpc-cni-legacy', eth1: 1 | 2, sourceDestCheck: boolean): Doc {
  const doc = example('seed-000-eni-rp-filter');
  const node = named(doc['nodes'], 'node-1');
  node['cni'] = { profile: cni };
  for (const eni of node['enis']) eni['sourceDestCheck'] = sourceDestCheck;
  node['sysctls'] = {
    all: { rp_filter: 0 },
    default: { rp_filter: eth1 },
    interfaces: { eth1: { rp_filter: eth1 } },
  };
  return doc;
}

function seed002(): Doc {
  const doc = example('seed-002-lb-snat-policy-routing');
  const node = named(doc['nodes'], 'node-1');
  node['sysctls'] = {
    all: { rp_filter: 0 },
    default: { rp_filter: 0 },
    interfaces: { eth0: { rp_filter: 0 } },
  };
  return doc;
}

/** Seed 004 with ip targets (the gateways), so a lost zone is only its NLB node and its pods. */
function seed004(crossZone: boolean): Doc {
  const doc = example('seed-004-cross-zone');
  const lb = doc['loadBalancers'][0];
  lb['crossZone'] = crossZone;
  lb['targetGroups'][0] = {
    name: 'gateways',
    targetType: 'ip',
    targets: [
      { pod: 'ingress-gw-a', port: 8080 },
      { pod: 'ingress-gw-b', port: 8080 },
    ],
    healthCheck: { intervalSeconds: 0.5, timeoutSeconds: 0.3, healthyThreshold: 2, unhealthyThreshold: 2 },
  };
  return doc;
}

/** seed 001 with ip targets and preservation off: every connection returns through the NLB. */
function seed001(): Doc {
  const doc = example('seed-001-hairpin');
  const tg = doc['loadBalancers'][0]['targetGroups'][0];
  tg['targetType'] = 'ip';
  tg['targets'] = ['nginx-1', 'nginx-2', 'nginx-3'].map((pod) => ({ pod, port: 80 }));
  delete tg['service'];
  return doc;
}

const mostlyConnected = { kind: 'rate', outcome: 'connected', min: 0.5, max: 1 } as const;
const allConnected = { kind: 'all', outcome: 'connected' } as const;

const cells: CellSpec[] = [
  {
    suite: SUITE,
    id: 'rp-filter-tightened.seed000',
    title: 'rp_filter tightened to strict on eth1 of a live node (legacy CNI, NLB ip target on eth1)',
    seeds: ['000'],
    configuration: { fault: 'rp_filter 2 -> 1 on node-1/eth1', seed: '000' },
    topology: seed000('vpc-cni-legacy', 2, false),
    flow: { from: 'curl-loop', to: { nlb: 'web-nlb', port: 80 } },
    chaos: {
      durationMs: DURATION,
      batch: BATCH,
      faults: [{ atMs: 1000, durationMs: 1500, fault: () => rpFilter('node-1', 'eth1', 1) }],
      bounds: { outsideMax: 0.05, insideMin: 0.5, recoveryMsMax: 1500 },
    },
    expect: { outcome: mostlyConnected, evidence: [{ kind: 'drop', host: 'node-1', reason: 'rp_filter' }] },
    pathWorks: true,
    explanation:
      "While eth1 is strict, every SYN from the internet arriving there fails the reverse-path check (the legacy CNI's " +
      'reverse path to a non-VPC source is eth0); new connections time out until the value is restored.',
  },
  {
    suite: SUITE,
    id: 'rp-filter-tightened.seed002',
    title:
      'rp_filter tightened to strict on eth0 of a live node (pod on an address-less ENI -> LoadBalancer IP)',
    seeds: ['002'],
    configuration: { fault: 'rp_filter 0 -> 1 on node-1/eth0', seed: '002' },
    topology: seed002(),
    flow: { from: 'client', to: { service: 'istio-system/gateway', via: 'loadBalancerIP' } },
    chaos: {
      durationMs: DURATION,
      batch: BATCH,
      faults: [{ atMs: 1000, durationMs: 1500, fault: () => rpFilter('node-1', 'eth0', 1) }],
      bounds: { outsideMax: 0.05, insideMin: 0.5, recoveryMsMax: 1500 },
    },
    expect: { outcome: mostlyConnected, evidence: [{ kind: 'drop', host: 'node-1', reason: 'rp_filter' }] },
    pathWorks: true,
    explanation:
      'The masqueraded SYN leaves through eth1, its SYN-ACK returns on eth0: once eth0 is strict, the reverse path of ' +
      'the pod (rule 2000, eth1) does not match and the SYN-ACK is dropped.',
  },
  ...[true, false].map((crossZone): CellSpec => ({
    suite: SUITE,
    id: `zone-loss.cross-zone-${crossZone ? 'on' : 'off'}`,
    title: `zone az-a lost (its NLB node and node-a's ENI), cross-zone ${crossZone ? 'on' : 'off'}: client on az-b's NLB address`,
    seeds: ['004'],
    configuration: { fault: 'zone az-a lost', crossZone, seed: '004' },
    topology: seed004(crossZone),
    flow: { from: 'bastion', to: { nlb: 'istio-nlb', port: 80, zones: ['az-b'] } },
    chaos: {
      durationMs: 5000,
      batch: BATCH,
      faults: [
        { atMs: 1000, durationMs: 3000, fault: () => nlbNodeLoss('istio-nlb', 'az-a') },
        { atMs: 1000, durationMs: 3000, fault: () => linkDown('node-a', 'eth0') },
      ],
      bounds: crossZone
        ? { outsideMax: 0.05, insideMin: 0.05, windowMsMax: 2500, recoveryMsMax: 1500 }
        : { outsideMax: 0.05, insideMax: 0.02 },
    },
    expect: { outcome: crossZone ? mostlyConnected : allConnected },
    pathWorks: !crossZone,
    explanation: crossZone
      ? "With cross-zone on, az-b's NLB node keeps sending part of its flows to the lost zone's gateway until its " +
        'health checks mark it unhealthy (2 failures at 0.5 s): a short burst of timeouts, then only az-b serves.'
      : "With cross-zone off, az-b's NLB node only ever picks az-b's gateway: losing az-a does not touch the flows " +
        'through the address the client uses.',
  })),
  {
    suite: SUITE,
    id: 'target-deregistered',
    title: 'an NLB target deregistered while connections are open (ip targets, seed 001 topology)',
    seeds: ['001'],
    configuration: { fault: 'deregister pod/nginx-2', seed: '001' },
    topology: seed001(),
    flow: { from: 'netshoot', to: { nlb: 'nginx-nlb', port: 80 } },
    chaos: {
      durationMs: DURATION,
      batch: BATCH,
      longLived: { connections: 24, intervalMs: 100 },
      faults: [
        {
          atMs: 1000,
          durationMs: 1500,
          fault: () => deregister('nginx-nlb', 'pod/nginx-2:80', { reset: true }),
        },
      ],
      bounds: { outsideMax: 0.05, insideMax: 0.05, longLived: { reset: 'some', survived: 'some' } },
    },
    expect: { outcome: allConnected },
    pathWorks: true,
    explanation:
      'Deregistration takes the target out of new flows at once (no failures) and resets its open connections; ' +
      "the other targets' connections survive.",
  },
  {
    suite: SUITE,
    id: 'cni-rules-wiped',
    title:
      "the CNI's ip rules wiped and restored (a network manager rewriting them; seed 000 node, vpc-cni, strict eth1)",
    seeds: ['000'],
    configuration: { fault: 'ip rules wiped on node-1', seed: '000' },
    topology: seed000('vpc-cni', 1, true),
    flow: { from: 'curl-loop', to: { nlb: 'web-nlb', port: 80 } },
    chaos: {
      durationMs: DURATION,
      batch: BATCH,
      faults: [
        { atMs: 1000, durationMs: 1500, fault: () => wipeRules('node-1', { rules: 'all-non-default' }) },
      ],
      bounds: { outsideMax: 0.05, insideMin: 0.5, recoveryMsMax: 1500 },
    },
    expect: { outcome: mostlyConnected, evidence: [{ kind: 'drop', host: 'node-1', reason: 'rp_filter' }] },
    pathWorks: true,
    explanation:
      'Without rule 1536 the reverse path of the internet client is eth0 again: the strict eth1 drops every new SYN ' +
      'until the rules are back, as on nodes whose network manager rewrites policy routing.',
  },
  {
    suite: SUITE,
    id: 'conntrack-flushed-nlb',
    title: 'conntrack flushed on the NLB node while connections are open (ip targets, seed 001 topology)',
    seeds: ['001'],
    configuration: { fault: 'conntrack -F on the NLB node', seed: '001' },
    topology: seed001(),
    flow: { from: 'netshoot', to: { nlb: 'nginx-nlb', port: 80 } },
    chaos: {
      durationMs: 3000,
      batch: BATCH,
      longLived: { connections: 6, intervalMs: 100 },
      faults: [{ atMs: 1000, durationMs: 500, fault: () => conntrackFlush('nlb/nginx-nlb/eu-west-1a') }],
      bounds: {
        outsideMax: 0.05,
        insideMax: 0.5,
        windowMsMax: 1000,
        longLived: { survived: 'none', timeout: 'none', reset: 'some' },
      },
    },
    expect: {
      outcome: mostlyConnected,
      evidence: [{ kind: 'resets-from', host: 'nlb/nginx-nlb/eu-west-1a' }],
    },
    pathWorks: true,
    explanation:
      'Every open connection loses its NAT state on the NLB node, and the NLB answers packets of flows it no longer ' +
      'knows with a reset (as after its idle timeout): no long-lived connection survives (the client sees the ' +
      'reset; rarely just the end of the socket), handshakes in flight fail, later connections are unaffected.',
  },
  {
    suite: SUITE,
    id: 'kube-proxy-wiped',
    title: "kube-proxy's rules removed and re-synced on a node (NodePort from the internet, seed 003)",
    seeds: ['003'],
    configuration: { fault: 'kube-proxy rules removed on node-a', seed: '003' },
    topology: example('seed-003-baseline'),
    flow: { from: 'laptop', to: { service: 'demo/web', via: 'nodePort', node: 'node-a' } },
    chaos: {
      durationMs: DURATION,
      batch: BATCH,
      faults: [{ atMs: 1000, durationMs: 1500, fault: () => kubeProxyWipe('node-a') }],
      bounds: { outsideMax: 0.05, insideMin: 0.5, recoveryMsMax: 1500 },
    },
    expect: { outcome: mostlyConnected },
    pathWorks: true,
    explanation:
      'Without KUBE-SERVICES / KUBE-NODEPORTS nothing translates the NodePort: the node itself answers (no listener) or ' +
      'drops, and every new connection fails until kube-proxy re-syncs its rules.',
  },
  {
    suite: SUITE,
    id: 'packet-loss.eni',
    title:
      "30% of packets lost on the way into a node's secondary ENI (iptables statistic; seed 000 node, vpc-cni)",
    seeds: ['000'],
    configuration: { fault: '30% loss in on node-1/eth1', seed: '000' },
    topology: seed000('vpc-cni', 1, true),
    flow: { from: 'curl-loop', to: { nlb: 'web-nlb', port: 80 } },
    chaos: {
      durationMs: DURATION,
      batch: BATCH,
      faults: [{ atMs: 1000, durationMs: 2000, fault: () => packetLoss('node-1', 'eth1', 0.3, 'in') }],
      bounds: { outsideMax: 0.05, insideMin: 0.1, insideMax: 0.6 },
    },
    expect: { outcome: mostlyConnected },
    pathWorks: true,
    explanation:
      'A lost SYN is retransmitted only after 1 s, past the 250 ms connect deadline: about the loss rate of new ' +
      'connections fail while it lasts (netem is not available; the loss is an iptables statistic match).',
  },
  {
    suite: SUITE,
    id: 'source-port-exhaustion',
    title: "a client's ephemeral ports used up towards the NLB (seed 001 topology, ip targets)",
    seeds: ['001'],
    configuration: { fault: 'ip_local_port_range 40000-40015 held on netshoot', seed: '001' },
    topology: seed001(),
    flow: { from: 'netshoot', to: { nlb: 'nginx-nlb', port: 80 } },
    chaos: {
      durationMs: DURATION,
      batch: BATCH,
      faults: [
        {
          atMs: 1000,
          durationMs: 1500,
          fault: () =>
            sourcePortExhaustion('netshoot', {
              range: [40000, 40015],
              hold: { host: '192.168.28.103', port: 80 },
            }),
        },
      ],
      bounds: { outsideMax: 0.05, insideMin: 0.5, recoveryMsMax: 1500 },
    },
    expect: { outcome: mostlyConnected },
    pathWorks: true,
    explanation:
      'With every port of the narrowed range holding a connection to the same NLB address and port, connect() fails ' +
      'at once (EADDRNOTAVAIL) until the range is widened again; other destinations would still connect.',
  },
];

export const chaosSuite: SuiteSpec = {
  id: SUITE,
  title: 'Faults while traffic flows, bounded impact, everything reverted',
  seeds: ['000', '001', '002', '004'],
  rows: ['fault'],
  columns: [],
  cells,
};
