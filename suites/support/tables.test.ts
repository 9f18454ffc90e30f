import { expect } from 'chai';
import { cellTags, validateSuite } from '../../lib/scenario/cell.js';
import { resolveFlow, sourceAddresses } from '../../lib/scenario/flow.js';
import { validateTopology } from '../../lib/model/topology.js';
import { SUITES } from '../catalog.js';
import { nlbHairpinSuite } from '../nlb-hairpin.cells.js';
import { eniRpFilterSuite } from '../eni-rp-filter.cells.js';
import { collisionShare, failureModel, packetLossShare } from '../../lib/scenario/derive.js';
import type { CellSpec } from '../../lib/scenario/cell.js';
import { buildFault } from '../../lib/chaos/fault-spec.js';

const f0 = (c: CellSpec) => buildFault(c.chaos!.faults[0]!.fault);
import { example } from './documents.js';

describe('suite tables', () => {
  it('have the suite ids of the interface', () => {
    expect(SUITES.map((s) => s.id)).to.deep.equal([
      'baseline',
      'eni-rp-filter',
      'lb-snat-policy-routing',
      'nlb-hairpin',
      'cross-zone-collision',
      'chaos',
    ]);
  });

  for (const suite of SUITES)
    it(`${suite.id}: every cell is well-formed, its topology valid and its flow resolvable`, () => {
      validateSuite(suite);
      for (const c of suite.cells) {
        const t = validateTopology(c.topology, `${suite.id}/${c.id}`);
        const flow = resolveFlow(t, c.flow);
        expect(flow.destinations.length, c.id).to.be.above(0);
        expect(flow.servers.length, c.id).to.be.above(0);
        if (c.expect.sourceSeen)
          expect(sourceAddresses(t, flow, c.expect.sourceSeen).length, c.id).to.be.above(0);
        expect(c.explanation.length, c.id).to.be.within(40, 700);
        expect(cellTags(c)).to.include.members(['Conformance', ...c.seeds.map((s) => `Seed:${s}`)]);
      }
    });

  it('every suite has cells where the path is broken and cells where it works', () => {
    for (const suite of SUITES.filter((s) => s.id !== 'baseline' && s.id !== 'chaos')) {
      expect(
        suite.cells.some((c) => c.pathWorks),
        suite.id,
      ).to.equal(true);
      expect(
        suite.cells.some((c) => !c.pathWorks),
        suite.id,
      ).to.equal(true);
    }
  });

  it('seed 000: rp_filter=2 fixes the legacy CNI only without the source/destination check', () => {
    const cell = (id: string) => eniRpFilterSuite.cells.find((c) => c.id === id)!;
    expect(cell('vpc-cni-legacy.snat-cni.rp-1.sdc-on').expect.evidence).to.deep.equal([
      { kind: 'drop', host: 'node-1', reason: 'rp_filter' },
    ]);
    expect(cell('vpc-cni-legacy.snat-cni.rp-2.sdc-on').pathWorks).to.equal(false);
    expect(cell('vpc-cni-legacy.snat-cni.rp-2.sdc-off').pathWorks).to.equal(true);
    expect(cell('vpc-cni.snat-cni.rp-1.sdc-on').pathWorks).to.equal(true);
    expect(cell('vpc-cni-legacy.snat-cni.rp-all2-eth11.sdc-off').pathWorks).to.equal(true); // max(2, 1) = loose
  });

  it('chaos cells are tagged Chaos and Disruptive and revert every fault before the traffic ends', () => {
    const chaos = SUITES.find((s) => s.id === 'chaos')!;
    expect(chaos.cells.length).to.be.at.least(4);
    for (const c of chaos.cells) {
      expect(cellTags(c)).to.include.members(['Chaos', 'Disruptive']);
      for (const f of c.chaos!.faults) expect(f.atMs + f.durationMs).to.be.below(c.chaos!.durationMs);
      expect(f0(c).label.length).to.be.above(5);
    }
  });

  it('tags timeouts and rates as Slow', () => {
    const c = nlbHairpinSuite.cells.find((x) => x.id === 'seed001.instance.cluster.preserve-on')!;
    expect(c.expect.outcome!.kind).to.equal('rate');
    expect(cellTags(c)).to.include('Slow');
  });
});

describe('derived failure shares', () => {
  it('seed 001: one node in three is the client pod own node', () => {
    const m = failureModel(example('seed-001-hairpin'), 'nginx-nlb', 'netshoot', 80);
    expect(m.share).to.be.closeTo(1 / 3, 1e-9);
    expect(m).to.include({ hairpin: true, forwardedWithClientSource: false });
  });

  const local = (detectLocal: 'none' | 'clusterCIDR', endpoints?: string[]) => {
    const doc = example('seed-001-hairpin');
    doc['services'][0]['externalTrafficPolicy'] = 'Local';
    doc['services'][0]['healthCheckNodePort'] = 32468;
    if (endpoints) doc['services'][0]['endpoints'] = endpoints;
    doc['cluster'] = { ...doc['cluster'], kubeProxy: { detectLocal } };
    return failureModel(doc, 'nginx-nlb', 'netshoot', 80);
  };

  it('seed 001, Local, clusterCIDR detector: only a local endpoint on another node answers through the NLB', () => {
    const m = local('clusterCIDR');
    expect(m.share).to.be.closeTo(7 / 9, 1e-9); // 1 - (2/3 × 1/3)
    expect(m).to.include({ hairpin: true, forwardedWithClientSource: true });
    // No endpoint on the client's node: it fails its health check; half the flows go to the other remote endpoint.
    expect(local('clusterCIDR', ['nginx-2', 'nginx-3'])).to.deep.equal({
      share: 0.5,
      hairpin: false,
      forwardedWithClientSource: true,
    });
  });

  it('seed 001, Local, no detector (EKS): each node sends the pod source to its own endpoint', () => {
    const m = local('none');
    expect(m.share).to.be.closeTo(1 / 3, 1e-9);
    expect(m).to.include({ hairpin: true, forwardedWithClientSource: false });
    expect(local('none', ['nginx-2', 'nginx-3'])).to.deep.equal({
      share: 0,
      hairpin: false,
      forwardedWithClientSource: false,
    });
  });

  it('seed 004: cross-zone off pins the zone-a NLB node on the client node; preservation off clears it', () => {
    const doc = example('seed-004-cross-zone');
    doc['loadBalancers'][0]['crossZone'] = false;
    expect(failureModel(doc, 'istio-nlb', 'app-client', 80, ['az-a']).share).to.equal(1);
    doc['loadBalancers'][0]['crossZone'] = true;
    expect(failureModel(doc, 'istio-nlb', 'app-client', 80).share).to.equal(0.5);
    doc['loadBalancers'][0]['targetGroups'][0]['preserveClientIp'] = false;
    expect(failureModel(doc, 'istio-nlb', 'app-client', 80).share).to.equal(0);
  });

  it('seed 004 collisions: (N - E[distinct targets]) / N over N NLB nodes', () => {
    const doc = example('seed-004-cross-zone');
    expect(collisionShare(doc, 'istio-nlb', 80)).to.equal(1 / 4); // two nodes, two targets
    const three = example('seed-004-cross-zone');
    three['vpc']['zones'].push({ name: 'az-c', subnets: [{ name: 'private-c', cidr: '10.0.3.0/24' }] });
    three['loadBalancers'][0]['nodes'].push({ zone: 'az-c', address: '10.0.3.100' });
    expect(collisionShare(three, 'istio-nlb', 80)).to.be.closeTo(5 / 12, 1e-12);
    // The old formula, P(all pick the same target) x (n-1)/n, gave 1/6 here.
    expect(collisionShare(three, 'istio-nlb', 80, ['az-a', 'az-b'])).to.equal(1 / 4);
    const one = example('seed-004-cross-zone');
    one['loadBalancers'][0]['targetGroups'][0]['targets'] = [{ node: 'node-a', port: 32411 }];
    expect(collisionShare(one, 'istio-nlb', 80)).to.equal(1 / 2);
    doc['loadBalancers'][0]['crossZone'] = false;
    expect(collisionShare(doc, 'istio-nlb', 80)).to.equal(0);
  });

  it('packet loss: the SYN, or every final ACK before the answer deadline', () => {
    // 250 ms connect deadline, 2 s answer deadline: one SYN-ACK retransmission (at 1 s) fits.
    expect(packetLossShare(0.3, 250, 2000)).to.be.closeTo(0.3 + 0.7 * 0.09, 1e-12);
    expect(packetLossShare(0.3, 250, 900)).to.be.closeTo(0.3 + 0.7 * 0.3, 1e-12);
    expect(packetLossShare(0.3, 250, 5000)).to.be.closeTo(0.3 + 0.7 * 0.027, 1e-12);
    expect(() => packetLossShare(0.3, 1500, 2000)).to.throw(RangeError);
  });
});
