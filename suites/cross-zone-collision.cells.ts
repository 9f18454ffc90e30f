/**
 * Seed 004, the collision: a client (the bastion) reaches every NLB node address of the NLB from
 * the same few source ports. With cross-zone load balancing and client IP preservation, NLB nodes
 * may pick the same target, which then sees one 5-tuple from two NLB nodes: the second SYN only
 * draws a challenge ACK for the first connection, and the second connection times out. Turning
 * either feature off removes the collision. The share is derived for any number of NLB nodes and
 * targets (lib/scenario/derive.ts collisionShare): two nodes and two targets 1/4, three nodes 5/12,
 * one target 1/2.
 */
import type { CellSpec, SuiteSpec } from '../lib/scenario/cell.js';
import { percent } from '../lib/verdict/expectation.js';
import { collisionShare, timeoutExpectation } from '../lib/scenario/derive.js';
import { example, type Doc } from './support/documents.js';

const SUITE = 'cross-zone-collision';
const SEEDS = ['004'];
/** Source ports the bastion uses towards every NLB address: each port reaches each address once per batch. */
const PORTS: readonly [number, number] = [40000, 40039];
/** Three NLB nodes: more ports, so the interval of the 5/12 share is as tight as the others'. */
const PORTS_3: readonly [number, number] = [40000, 40079];
const HOLD_MS = 300;

interface Config {
  crossZone: boolean;
  preserveClientIp: boolean;
  /** NLB nodes (zones) the client reaches: 2, or 3 with a third zone without targets. */
  nlbNodes: 2 | 3;
  /** Targets in the target group: node-a and node-b, or node-a alone. */
  targets: 2 | 1;
}

function topology(c: Config): Doc {
  const doc = example('seed-004-cross-zone');
  const lb = doc['loadBalancers'][0];
  lb['crossZone'] = c.crossZone;
  lb['targetGroups'][0]['preserveClientIp'] = c.preserveClientIp;
  if (c.nlbNodes === 3) {
    doc['vpc']['zones'].push({ name: 'az-c', subnets: [{ name: 'private-c', cidr: '10.0.3.0/24' }] });
    lb['nodes'].push({ zone: 'az-c', address: '10.0.3.100' });
  }
  if (c.targets === 1) lb['targetGroups'][0]['targets'] = [{ node: 'node-a', port: 32411 }];
  return doc;
}

function cell(c: Config): CellSpec {
  const doc = topology(c);
  const share = collisionShare(doc, 'istio-nlb', 80);
  const on = (b: boolean): string => (b ? 'on' : 'off');
  const shape = c.nlbNodes === 3 ? '.three-zones' : c.targets === 1 ? '.one-target' : '';
  const nodes = c.nlbNodes === 3 ? 'all three NLB node addresses' : 'both NLB node addresses';
  const ports = c.nlbNodes === 3 ? PORTS_3 : PORTS;
  const explanation =
    share > 0
      ? `The NLB nodes keep the bastion's address and port and, with cross-zone on, may pick the same target: it ` +
        'then sees one 5-tuple from several NLB nodes (their conntrack tables are separate, so nothing renames the ' +
        'later ones), and every SYN after the first only draws a challenge ACK: of the flows of one source port, ' +
        `all but one per target hit time out (expected share ${percent(share)}).`
      : !c.preserveClientIp
        ? 'Without client IP preservation each NLB node connects from its own address: the two flows differ in ' +
          'their source address and never collide at the target.'
        : 'With cross-zone off each NLB node only picks targets in its own zone, so the flows from one source ' +
          'port through the two NLB nodes always land on different nodes.';
  return {
    suite: SUITE,
    id: `cross-zone-${on(c.crossZone)}.preserve-${on(c.preserveClientIp)}${shape}`,
    title:
      `cross-zone ${on(c.crossZone)}, preservation ${on(c.preserveClientIp)}, ${c.nlbNodes} NLB nodes, ` +
      `${c.targets} target${c.targets > 1 ? 's' : ''}: one client, ${nodes}, source ports ${ports[0]}-${ports[1]}`,
    seeds: SEEDS,
    configuration: { ...c },
    topology: doc,
    flow: {
      from: 'bastion',
      to: { nlb: 'istio-nlb', port: 80 },
      attempts: c.nlbNodes * (ports[1] - ports[0] + 1),
      localPortRange: ports,
      holdMs: HOLD_MS,
      concurrency: ports[1] - ports[0] + 1,
    },
    pathWorks: share === 0,
    expect: {
      outcome: timeoutExpectation(share),
      ...(share === 0 && { sourceSeen: { anyNode: true } }),
      ...(share > 0 && {
        evidence: [
          // The target answers the colliding SYN with a challenge ACK; two NLB nodes hold the same 5-tuple.
          {
            kind: 'counter-rose',
            counter: 'TcpExt.TCPSYNChallenge',
            hosts: ['ingress-gw-a', 'ingress-gw-b'],
          },
          { kind: 'nlb-collision', nlb: 'istio-nlb' },
        ],
      }),
    },
    ...(share > 0 && { mechanism: '5-tuple collision' }),
    explanation,
  };
}

const TWO: Pick<Config, 'nlbNodes' | 'targets'> = { nlbNodes: 2, targets: 2 };

export const crossZoneCollisionSuite: SuiteSpec = {
  id: SUITE,
  title: 'One client through several NLB nodes: 5-tuple collisions at the target (seed 004)',
  seeds: SEEDS,
  rows: ['nlbNodes', 'targets', 'crossZone'],
  columns: ['preserveClientIp'],
  cells: [
    ...[true, false].flatMap((crossZone) =>
      [true, false].map((preserveClientIp) => cell({ crossZone, preserveClientIp, ...TWO })),
    ),
    cell({ crossZone: true, preserveClientIp: true, nlbNodes: 3, targets: 2 }),
    cell({ crossZone: true, preserveClientIp: true, nlbNodes: 2, targets: 1 }),
  ],
};
