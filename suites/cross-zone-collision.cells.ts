/**
 * Seed 004, the collision: a client (the bastion) reaches both NLB node addresses of a two-zone NLB
 * from the same few source ports. With cross-zone load balancing and client IP preservation, both
 * NLB nodes may pick the same target, which then sees one 5-tuple from two NLB nodes: the second
 * SYN only draws an ACK for the first connection, and the second connection times out. Turning
 * either feature off removes the collision.
 */
import type { CellSpec, SuiteSpec } from '../lib/scenario/cell.js';
import { validateTopology } from '../lib/model/topology.js';
import { percent } from '../lib/verdict/expectation.js';
import { timeoutExpectation } from '../lib/scenario/derive.js';
import { example } from './support/documents.js';

const SUITE = 'cross-zone-collision';
const SEEDS = ['004'];
/** Source ports the bastion uses towards every NLB address: each port reaches each address once per batch. */
const PORTS: readonly [number, number] = [40000, 40039];
const HOLD_MS = 300;

interface Config {
  crossZone: boolean;
  preserveClientIp: boolean;
}

/**
 * Share of attempts that fail: per source port, the attempts to the NLB's addresses collide when
 * their NLB nodes pick the same target (probability Σ_t Π_nodes p_node(t)); one of a colliding
 * pair fails. Two NLB nodes: share = P(same target) / 2.
 */
function collisionShare(doc: unknown): number {
  const topology = validateTopology(doc, 'collision share');
  const lb = topology.loadBalancers[0]!;
  const tg = lb.listeners[0]!.targetGroup;
  if (!tg.preserveClientIp || lb.nodes.length < 2) return 0;
  const pools = lb.nodes.map((n) =>
    lb.crossZone ? tg.targets : tg.targets.filter((t) => t.zone === n.zone),
  );
  const same = tg.targets.reduce(
    (sum, t) =>
      sum + pools.reduce((p, pool) => p * (pool.some((x) => x.id === t.id) ? 1 / pool.length : 0), 1),
    0,
  );
  return (same * (lb.nodes.length - 1)) / lb.nodes.length;
}

function cell(c: Config): CellSpec {
  const doc = example('seed-004-cross-zone');
  const lb = doc['loadBalancers'][0];
  lb['crossZone'] = c.crossZone;
  lb['targetGroups'][0]['preserveClientIp'] = c.preserveClientIp;
  const share = collisionShare(doc);
  const on = (b: boolean): string => (b ? 'on' : 'off');
  const explanation =
    share > 0
      ? `Both NLB nodes keep the bastion's address and port and, with cross-zone on, may pick the same node: it ` +
        'then sees one 5-tuple from two NLB nodes (their conntrack tables are separate, so nothing renames the ' +
        `second), and the second SYN only draws an ACK for the first connection (expected share ${percent(share)}).`
      : !c.preserveClientIp
        ? 'Without client IP preservation each NLB node connects from its own address: the two flows differ in ' +
          'their source address and never collide at the target.'
        : 'With cross-zone off each NLB node only picks targets in its own zone, so the flows from one source ' +
          'port through the two NLB nodes always land on different nodes.';
  return {
    suite: SUITE,
    id: `cross-zone-${on(c.crossZone)}.preserve-${on(c.preserveClientIp)}`,
    title:
      `cross-zone ${on(c.crossZone)}, preservation ${on(c.preserveClientIp)}: one client, both NLB node ` +
      `addresses, source ports ${PORTS[0]}-${PORTS[1]}`,
    seeds: SEEDS,
    configuration: { crossZone: c.crossZone, preserveClientIp: c.preserveClientIp },
    topology: doc,
    flow: {
      from: 'bastion',
      to: { nlb: 'istio-nlb', port: 80 },
      attempts: 2 * (PORTS[1] - PORTS[0] + 1),
      localPortRange: PORTS,
      holdMs: HOLD_MS,
      concurrency: PORTS[1] - PORTS[0] + 1,
    },
    pathWorks: share === 0,
    expect: { outcome: timeoutExpectation(share), ...(share === 0 && { sourceSeen: { anyNode: true } }) },
    explanation,
  };
}

export const crossZoneCollisionSuite: SuiteSpec = {
  id: SUITE,
  title: 'One client through several NLB nodes: 5-tuple collisions at the target (seed 004)',
  seeds: SEEDS,
  rows: ['crossZone'],
  columns: ['preserveClientIp'],
  cells: [true, false].flatMap((crossZone) =>
    [true, false].map((preserveClientIp) => cell({ crossZone, preserveClientIp })),
  ),
};
