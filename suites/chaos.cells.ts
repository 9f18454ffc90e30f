/**
 * Chaos: faults from the seeds' world applied while steady traffic flows (a batch of short
 * connections every 100 ms, plus long-lived ones), each reverted, with bounds on what they do:
 * failures outside and during the fault, how long the effect lasts, recovery, which long-lived
 * connections survive, who drops or resets. Every touched namespace is fingerprinted before and
 * after: a cell fails if anything is left changed.
 */
import type { CellSpec, ChaosSpec, Flow, SuiteSpec } from '../lib/scenario/cell.js';
import type { FaultSpecInput } from '../lib/model/fault-schema.js';
import { band, packetLossShare } from '../lib/scenario/derive.js';
import { defaultAnswerMs } from '../lib/traffic/client.js';
import { example, named, type Doc } from './support/documents.js';
import { rpFilterDrop } from './support/expect.js';

const SUITE = 'chaos';
const DURATION = 4000;
const BATCH = { attempts: 4, everyMs: 100, deadlineMs: 250 };

/** Packet loss: its probability, and enough attempts under it (8 per 100 ms for 3 s) for a tight interval. */
const LOSS = 0.3;
const LOSS_BATCH = { attempts: 8, everyMs: 100, deadlineMs: 250 };
const LOSS_SHARE = packetLossShare(
  LOSS,
  LOSS_BATCH.deadlineMs,
  defaultAnswerMs('tcp', LOSS_BATCH.deadlineMs),
);
/** About 240 attempts under the fault: a 95% interval of ±6 points; the band leaves 3 standard errors more. */
const LOSS_MARGIN = 0.2;

/**
 * The NLB's health checks cross the lossy ENI too: with 2 misses to unhealthy they would flap the
 * only target (failing open, but resetting its flows), a mechanism of its own. Ten misses in a row
 * at 30% loss (6e-6) do not happen, so the cell measures the loss alone.
 */
function steadyHealth(doc: Doc): Doc {
  const hc = doc['loadBalancers'][0]['targetGroups'][0]['healthCheck'];
  hc['unhealthyThreshold'] = 10;
  return doc;
}

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

/**
 * A node briefly without a local endpoint: its share of new flows times out until the NLB's checks
 * see the 503 and take it out, none after.
 */
const readinessFlip = { endsWhenUnhealthy: { nlb: 'nginx-nlb', target: 'node/node-2:31468' } } as const;

/** A fault that breaks every new connection while it lasts: all fail under it, none outside, none after revert. */
const breaksNewConnections = { inside: 'all' } as const;
/** The flows of the seeds' topologies the cells drive. */
const internetToSeed000Nlb: Flow = { from: 'curl-loop', to: { nlb: 'web-nlb', port: 80 } };
const podToSeed001Nlb: Flow = { from: 'netshoot', to: { nlb: 'nginx-nlb', port: 80 } };

type Scheduled = ChaosSpec['faults'][number];

/** One fault applied 1 s into the traffic, for `durationMs`. */
function at1s(fault: FaultSpecInput, durationMs = 1500): Scheduled {
  return { atMs: 1000, durationMs, fault };
}

interface ChaosCell extends Pick<
  CellSpec,
  'id' | 'title' | 'topology' | 'flow' | 'expect' | 'explanation' | 'mechanism'
> {
  seed: string;
  /** The row label of the report's matrix. */
  fault: string;
  faults: Scheduled[];
  bounds: ChaosSpec['bounds'];
  configuration?: CellSpec['configuration'];
  durationMs?: number;
  batch?: ChaosSpec['batch'];
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
      batch: c.batch ?? BATCH,
      ...(c.longLived && { longLived: c.longLived }),
      faults: c.faults,
      bounds: c.bounds,
    },
    expect: c.expect,
    pathWorks: c.pathWorks ?? true,
    explanation: c.explanation,
    ...(c.mechanism && { mechanism: c.mechanism }),
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
    faults: [at1s({ kind: 'rp-filter', host: 'node-1', interface: 'eth1', value: 1 })],
    bounds: breaksNewConnections,
    expect: { evidence: [rpFilterDrop('node-1')] },
    mechanism: 'rp_filter',
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
    faults: [at1s({ kind: 'rp-filter', host: 'node-1', interface: 'eth0', value: 1 })],
    bounds: breaksNewConnections,
    expect: { evidence: [rpFilterDrop('node-1')] },
    mechanism: 'rp_filter',
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
        at1s({ kind: 'nlb-node-loss', nlb: 'istio-nlb', zone: 'az-a' }, 3000),
        at1s({ kind: 'link-down', host: 'node-a', interface: 'eth0' }, 3000),
      ],
      bounds: crossZone
        ? { endsWhenUnhealthy: { nlb: 'istio-nlb', target: 'pod/ingress-gw-a:8080' } }
        : { inside: 'none' },
      expect: {},
      pathWorks: !crossZone,
      ...(crossZone && { mechanism: 'health-check lag' }),
      explanation: crossZone
        ? "With cross-zone on, az-b's NLB node keeps sending part of its flows to the lost zone's gateway until its " +
          'health checks mark it unhealthy (2 missed checks at 0.5 s): timeouts until its rules drop the gateway, ' +
          'none after.'
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
    faults: [at1s({ kind: 'deregister', nlb: 'nginx-nlb', target: 'pod/nginx-2:80', reset: true })],
    bounds: { inside: 'none', longLived: { reset: 'some', survived: 'some' } },
    expect: {},
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
    faults: [at1s({ kind: 'wipe-rules', host: 'node-1', rules: 'all-non-default' })],
    bounds: breaksNewConnections,
    expect: { evidence: [rpFilterDrop('node-1')] },
    mechanism: 'rp_filter (rule 1536 gone)',
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
    faults: [at1s({ kind: 'conntrack-flush', host: 'nlb/nginx-nlb/eu-west-1a' }, 500)],
    bounds: {
      inside: 'none',
      longLived: { survived: 'none', timeout: 'none', reset: 'some' },
    },
    expect: { evidence: [{ kind: 'resets-from', host: 'nlb/nginx-nlb/eu-west-1a' }] },
    mechanism: 'NAT state lost',
    explanation:
      'Every open connection loses its NAT state on the NLB node, and the NLB answers packets of flows it no longer ' +
      'knows with a reset (as after its idle timeout): no long-lived connection survives (the client sees the ' +
      'reset; rarely just the end of the socket), a handshake in flight at that instant may fail, connections ' +
      'opened after the flush are unaffected.',
  }),
  chaosCell({
    id: 'kube-proxy-wiped',
    title: "kube-proxy's rules removed and re-synced on a node (NodePort from the internet, seed 003)",
    seed: '003',
    fault: 'kube-proxy rules removed on node-a',
    topology: example('seed-003-baseline'),
    flow: { from: 'laptop', to: { service: 'demo/web', via: 'nodePort', node: 'node-a' } },
    faults: [at1s({ kind: 'kube-proxy-wipe', node: 'node-a' })],
    bounds: breaksNewConnections,
    expect: {},
    mechanism: 'no NodePort rules',
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
    faults: [
      at1s(
        { kind: 'target-unhealthy', nlb: 'nginx-nlb', target: 'node/node-2:31468', via: 'readiness' },
        3000,
      ),
    ],
    bounds: readinessFlip,
    // No drop-rule evidence: the dropping rule exists only while the fault lasts, so its counter is
    // in neither snapshot of the cell's evidence.
    expect: {},
    pathWorks: false,
    mechanism: 'health-check lag',
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
        {
          kind: 'endpoints-change',
          node: 'node-2',
          service: 'nginx-demo/service-nginx-demo',
          endpoints: ['nginx-1', 'nginx-3'],
          scope: 'cluster',
        },
        3000,
      ),
    ],
    bounds: readinessFlip,
    // No drop-rule evidence: the dropping rule exists only while the fault lasts, so its counter is
    // in neither snapshot of the cell's evidence.
    expect: {},
    pathWorks: false,
    mechanism: 'health-check lag',
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
    topology: steadyHealth(seed000('vpc-cni', 1, true)),
    flow: internetToSeed000Nlb,
    durationMs: 5000,
    batch: LOSS_BATCH,
    faults: [
      at1s(
        { kind: 'packet-loss', host: 'node-1', interface: 'eth1', probability: LOSS, direction: 'in' },
        3000,
      ),
    ],
    bounds: { inside: band(LOSS_SHARE, LOSS_MARGIN) },
    expect: {},
    mechanism: 'SYN and ACK loss',
    explanation:
      `Into eth1 go the SYN and the final ACK. A lost SYN is retransmitted after 1 s, past the 250 ms connect ` +
      `deadline; a lost ACK is repaired when the server resends its SYN-ACK (after 1 s, then 2 s more), unless ` +
      `every ACK before the 2 s answer deadline is lost: p + (1-p)p² = ${(LOSS_SHARE * 100).toFixed(1)}% of new ` +
      `connections fail (band ±${LOSS_MARGIN * 100} points; loss by iptables statistic, no netem here).`,
  }),
  chaosCell({
    id: 'source-port-exhaustion',
    title: "a client's ephemeral ports used up towards the NLB (seed 001 topology, ip targets)",
    seed: '001',
    fault: 'ip_local_port_range 40000-40015 held on netshoot',
    topology: seed001(),
    flow: podToSeed001Nlb,
    faults: [
      at1s({
        kind: 'source-port-exhaustion',
        host: 'netshoot',
        range: [40000, 40015],
        hold: { host: '192.168.28.103', port: 80 },
      }),
    ],
    bounds: breaksNewConnections,
    expect: {},
    mechanism: 'EADDRNOTAVAIL',
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
