/**
 * Chaos: faults from the seeds' world applied while steady traffic flows (a batch of short
 * connections every 100 ms, plus long-lived ones), each reverted, with bounds on what they do:
 * failures outside and during the fault, how long the effect lasts, recovery, which long-lived
 * connections survive, who drops or resets. Every touched namespace is fingerprinted before and
 * after: a cell fails if anything is left changed.
 */
import { conntrackFlush } from '../lib/chaos/faults/conntrack.js';
import { packetLoss } from '../lib/chaos/faults/impair.js';
import { endpointsChange, kubeProxyWipe } from '../lib/chaos/faults/kube-proxy.js';
import { deregister, nlbNodeLoss, targetUnhealthy } from '../lib/chaos/faults/nlb.js';
import { linkDown, wipeRules } from '../lib/chaos/faults/routing.js';
import { rpFilter, sourcePortExhaustion } from '../lib/chaos/faults/sysctl.js';
import type { CellSpec, ChaosSpec, Flow, SuiteSpec } from '../lib/scenario/cell.js';
import { example, named, type Doc } from './support/documents.js';
import { rpFilterDrop } from './support/expect.js';

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

/**
 * seed 001 with Local policy and preservation off: each node serves its own endpoint, and the NLB's
 * health checks (1 s) reach kube-proxy's health check node port on every node.
 */
function seed001Local(): Doc {
  const doc = example('seed-001-hairpin');
  const svc = named(doc['services'], 'service-nginx-demo');
  svc['externalTrafficPolicy'] = 'Local';
  svc['healthCheckNodePort'] = 32468;
  doc['loadBalancers'][0]['targetGroups'][0]['preserveClientIp'] = false;
  return doc;
}

/** A node briefly without a local endpoint: its share of new flows times out until the NLB's checks see the 503. */
const readinessFlip = { outsideMax: 0.05, insideMin: 0.03, insideMax: 0.6, windowMsMax: 3500 } as const;

const mostlyConnected = { kind: 'rate', outcome: 'connected', min: 0.5, max: 1 } as const;
const allConnected = { kind: 'all', outcome: 'connected' } as const;
/** Recovers at once, outside the fault nothing fails, inside at least half do. */
const breaksNewConnections = { outsideMax: 0.05, insideMin: 0.5, recoveryMsMax: 1500 } as const;

/** The flows of the seeds' topologies the cells drive. */
const internetToSeed000Nlb: Flow = { from: 'curl-loop', to: { nlb: 'web-nlb', port: 80 } };
const podToSeed001Nlb: Flow = { from: 'netshoot', to: { nlb: 'nginx-nlb', port: 80 } };

type Scheduled = ChaosSpec['faults'][number];

/** One fault applied 1 s into the traffic, for `durationMs`. */
function at1s(fault: Scheduled['fault'], durationMs = 1500): Scheduled {
  return { atMs: 1000, durationMs, fault };
}

interface ChaosCell extends Pick<CellSpec, 'id' | 'title' | 'topology' | 'flow' | 'expect' | 'explanation'> {
  seed: string;
  /** The row label of the report's matrix. */
  fault: string;
  faults: Scheduled[];
  bounds: ChaosSpec['bounds'];
  configuration?: CellSpec['configuration'];
  durationMs?: number;
  longLived?: ChaosSpec['longLived'];
  pathWorks?: boolean;
}

/** A chaos cell: steady traffic for DURATION (4 short connections every 100 ms) around its faults. */
function chaosCell(c: ChaosCell): CellSpec {
  return {
    suite: SUITE,
    id: c.id,
    title: c.title,
    seeds: [c.seed],
    configuration: { fault: c.fault, ...c.configuration, seed: c.seed },
    topology: c.topology,
    flow: c.flow,
    chaos: {
      durationMs: c.durationMs ?? DURATION,
      batch: BATCH,
      ...(c.longLived && { longLived: c.longLived }),
      faults: c.faults,
      bounds: c.bounds,
    },
    expect: c.expect,
    pathWorks: c.pathWorks ?? true,
    explanation: c.explanation,
  };
}

const cells: CellSpec[] = [
  chaosCell({
    id: 'rp-filter-tightened.seed000',
    title: 'rp_filter tightened to strict on eth1 of a live node (legacy CNI, NLB ip target on eth1)',
    seed: '000',
    fault: 'rp_filter 2 -> 1 on node-1/eth1',
    topology: seed000('vpc-cni-legacy', 2, false),
    flow: internetToSeed000Nlb,
    faults: [at1s(() => rpFilter('node-1', 'eth1', 1))],
    bounds: breaksNewConnections,
    expect: { outcome: mostlyConnected, evidence: [rpFilterDrop('node-1')] },
    explanation:
      "While eth1 is strict, every SYN from the internet arriving there fails the reverse-path check (the legacy CNI's " +
      'reverse path to a non-VPC source is eth0); new connections time out until the value is restored.',
  }),
  chaosCell({
    id: 'rp-filter-tightened.seed002',
    title:
      'rp_filter tightened to strict on eth0 of a live node (pod on an address-less ENI -> LoadBalancer IP)',
    seed: '002',
    fault: 'rp_filter 0 -> 1 on node-1/eth0',
    topology: seed002(),
    flow: { from: 'client', to: { service: 'istio-system/gateway', via: 'loadBalancerIP' } },
    faults: [at1s(() => rpFilter('node-1', 'eth0', 1))],
    bounds: breaksNewConnections,
    expect: { outcome: mostlyConnected, evidence: [rpFilterDrop('node-1')] },
    explanation:
      'The masqueraded SYN leaves through eth1, its SYN-ACK returns on eth0: once eth0 is strict, the reverse path of ' +
      'the pod (rule 2000, eth1) does not match and the SYN-ACK is dropped.',
  }),
  ...[true, false].map((crossZone) =>
    chaosCell({
      id: `zone-loss.cross-zone-${crossZone ? 'on' : 'off'}`,
      title: `zone az-a lost (its NLB node and node-a's ENI), cross-zone ${crossZone ? 'on' : 'off'}: client on az-b's NLB address`,
      seed: '004',
      fault: 'zone az-a lost',
      configuration: { crossZone },
      topology: seed004(crossZone),
      flow: { from: 'bastion', to: { nlb: 'istio-nlb', port: 80, zones: ['az-b'] } },
      durationMs: 5000,
      faults: [
        at1s(() => nlbNodeLoss('istio-nlb', 'az-a'), 3000),
        at1s(() => linkDown('node-a', 'eth0'), 3000),
      ],
      bounds: crossZone
        ? { outsideMax: 0.05, insideMin: 0.05, windowMsMax: 2500, recoveryMsMax: 1500 }
        : { outsideMax: 0.05, insideMax: 0.02 },
      expect: { outcome: crossZone ? mostlyConnected : allConnected },
      pathWorks: !crossZone,
      explanation: crossZone
        ? "With cross-zone on, az-b's NLB node keeps sending part of its flows to the lost zone's gateway until its " +
          'health checks mark it unhealthy (2 failures at 0.5 s): a short burst of timeouts, then only az-b serves.'
        : "With cross-zone off, az-b's NLB node only ever picks az-b's gateway: losing az-a does not touch the flows " +
          'through the address the client uses.',
    }),
  ),
  chaosCell({
    id: 'target-deregistered',
    title: 'an NLB target deregistered while connections are open (ip targets, seed 001 topology)',
    seed: '001',
    fault: 'deregister pod/nginx-2',
    topology: seed001(),
    flow: podToSeed001Nlb,
    longLived: { connections: 24, intervalMs: 100 },
    faults: [at1s(() => deregister('nginx-nlb', 'pod/nginx-2:80', { reset: true }))],
    bounds: { outsideMax: 0.05, insideMax: 0.05, longLived: { reset: 'some', survived: 'some' } },
    expect: { outcome: allConnected },
    explanation:
      'Deregistration takes the target out of new flows at once (no failures) and resets its open connections; ' +
      "the other targets' connections survive.",
  }),
  chaosCell({
    id: 'cni-rules-wiped',
    title:
      "the CNI's ip rules wiped and restored (a network manager rewriting them; seed 000 node, vpc-cni, strict eth1)",
    seed: '000',
    fault: 'ip rules wiped on node-1',
    topology: seed000('vpc-cni', 1, true),
    flow: internetToSeed000Nlb,
    faults: [at1s(() => wipeRules('node-1', { rules: 'all-non-default' }))],
    bounds: breaksNewConnections,
    expect: { outcome: mostlyConnected, evidence: [rpFilterDrop('node-1')] },
    explanation:
      'Without rule 1536 the reverse path of the internet client is eth0 again: the strict eth1 drops every new SYN ' +
      'until the rules are back, as on nodes whose network manager rewrites policy routing.',
  }),
  chaosCell({
    id: 'conntrack-flushed-nlb',
    title: 'conntrack flushed on the NLB node while connections are open (ip targets, seed 001 topology)',
    seed: '001',
    fault: 'conntrack -F on the NLB node',
    topology: seed001(),
    flow: podToSeed001Nlb,
    durationMs: 3000,
    longLived: { connections: 6, intervalMs: 100 },
    faults: [at1s(() => conntrackFlush('nlb/nginx-nlb/eu-west-1a'), 500)],
    bounds: {
      outsideMax: 0.05,
      insideMax: 0.5,
      windowMsMax: 1000,
      longLived: { survived: 'none', timeout: 'none', reset: 'some' },
    },
    expect: {
      outcome: mostlyConnected,
      evidence: [{ kind: 'resets-from', host: 'nlb/nginx-nlb/eu-west-1a' }],
    },
    explanation:
      'Every open connection loses its NAT state on the NLB node, and the NLB answers packets of flows it no longer ' +
      'knows with a reset (as after its idle timeout): no long-lived connection survives (the client sees the ' +
      'reset; rarely just the end of the socket), handshakes in flight fail, later connections are unaffected.',
  }),
  chaosCell({
    id: 'kube-proxy-wiped',
    title: "kube-proxy's rules removed and re-synced on a node (NodePort from the internet, seed 003)",
    seed: '003',
    fault: 'kube-proxy rules removed on node-a',
    topology: example('seed-003-baseline'),
    flow: { from: 'laptop', to: { service: 'demo/web', via: 'nodePort', node: 'node-a' } },
    faults: [at1s(() => kubeProxyWipe('node-a'))],
    bounds: breaksNewConnections,
    expect: { outcome: mostlyConnected },
    explanation:
      'Without KUBE-SERVICES / KUBE-NODEPORTS nothing translates the NodePort: the node itself answers (no listener) or ' +
      'drops, and every new connection fails until kube-proxy re-syncs its rules.',
  }),
  chaosCell({
    id: 'pod-not-ready.local',
    title: "a node's only endpoint reported not Ready (NLB instance targets, Local, seed 001 topology)",
    seed: '001',
    fault: 'nginx-2 not Ready',
    topology: seed001Local(),
    flow: podToSeed001Nlb,
    durationMs: 6000,
    faults: [at1s(() => targetUnhealthy('nginx-nlb', 'node/node-2:31468', { via: 'readiness' }), 3000)],
    bounds: readinessFlip,
    // No drop-rule evidence: the dropping rule exists only while the fault lasts, so its counter is
    // in neither snapshot of the cell's evidence.
    expect: { outcome: mostlyConnected },
    explanation:
      'nginx-2 not Ready: kube-proxy removes it everywhere, so node-2 drops external traffic (no local endpoint) ' +
      'and its health check node port answers 503; the NLB keeps sending node-2 its share until two failed checks.',
  }),
  chaosCell({
    id: 'endpoint-removed.local',
    title:
      "a node's only endpoint taken out of the Service (labels changed; NLB instance targets, Local, seed 001)",
    seed: '001',
    fault: 'nginx-2 removed from the Service',
    topology: seed001Local(),
    flow: podToSeed001Nlb,
    durationMs: 6000,
    faults: [
      at1s(
        () =>
          endpointsChange('node-2', 'nginx-demo/service-nginx-demo', ['nginx-1', 'nginx-3'], {
            scope: 'cluster',
          }),
        3000,
      ),
    ],
    bounds: readinessFlip,
    // No drop-rule evidence: the dropping rule exists only while the fault lasts, so its counter is
    // in neither snapshot of the cell's evidence.
    expect: { outcome: mostlyConnected },
    explanation:
      'The EndpointSlice loses nginx-2: node-2 has no local endpoint, drops external traffic and fails its health ' +
      'check; until the NLB has seen two failures it still sends node-2 new flows, which time out.',
  }),
  chaosCell({
    id: 'packet-loss.eni',
    title:
      "30% of packets lost on the way into a node's secondary ENI (iptables statistic; seed 000 node, vpc-cni)",
    seed: '000',
    fault: '30% loss in on node-1/eth1',
    topology: seed000('vpc-cni', 1, true),
    flow: internetToSeed000Nlb,
    faults: [at1s(() => packetLoss('node-1', 'eth1', 0.3, 'in'), 2000)],
    bounds: { outsideMax: 0.05, insideMin: 0.1, insideMax: 0.6 },
    expect: { outcome: mostlyConnected },
    explanation:
      'A lost SYN is retransmitted only after 1 s, past the 250 ms connect deadline: about the loss rate of new ' +
      'connections fail while it lasts (netem is not available; the loss is an iptables statistic match).',
  }),
  chaosCell({
    id: 'source-port-exhaustion',
    title: "a client's ephemeral ports used up towards the NLB (seed 001 topology, ip targets)",
    seed: '001',
    fault: 'ip_local_port_range 40000-40015 held on netshoot',
    topology: seed001(),
    flow: podToSeed001Nlb,
    faults: [
      at1s(() =>
        sourcePortExhaustion('netshoot', {
          range: [40000, 40015],
          hold: { host: '192.168.28.103', port: 80 },
        }),
      ),
    ],
    bounds: breaksNewConnections,
    expect: { outcome: mostlyConnected },
    explanation:
      'With every port of the narrowed range holding a connection to the same NLB address and port, connect() fails ' +
      'at once (EADDRNOTAVAIL) until the range is widened again; other destinations would still connect.',
  }),
];

export const chaosSuite: SuiteSpec = {
  id: SUITE,
  title: 'Faults while traffic flows, bounded impact, everything reverted',
  seeds: ['000', '001', '002', '003', '004'],
  rows: ['fault'],
  columns: [],
  cells,
};
