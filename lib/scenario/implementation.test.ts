import { expect } from 'chai';
import { eniRpFilterSuite } from '../../suites/eni-rp-filter.cells.js';
import { lbSnatPolicyRoutingSuite } from '../../suites/lb-snat-policy-routing.cells.js';
import { validateTopology } from '../model/topology.js';
import { implementationOf } from './run-cell.js';
import { usesVpcCni, withCniImplementation } from './implementation.js';

describe('--cni real: the implementation axis', () => {
  const cell = eniRpFilterSuite.cells.find((c) => c.id.startsWith('vpc-cni-legacy.'))!;

  it('runs a VPC CNI cell with the real CNI of its generation, leaving the table untouched', () => {
    const real = withCniImplementation(cell, { implementation: 'real' });
    expect(real.id).to.equal(cell.id);
    expect(real.expect).to.equal(cell.expect);
    const t = validateTopology(real.topology);
    expect(implementationOf(t)).to.deep.equal({ cni: 'real vpc-cni-legacy v1.7.10' });
    expect(implementationOf(validateTopology(cell.topology))).to.deep.equal({
      cni: 'emulated vpc-cni-legacy',
    });
  });

  it('uses a build of your own for its generation only', () => {
    const legacyCell = withCniImplementation(cell, {
      implementation: 'real',
      builds: { 'vpc-cni': '/b/head' },
    });
    const node = (legacyCell.topology as { nodes: { cni: Record<string, unknown> }[] }).nodes[0]!;
    expect(node.cni).to.deep.include({ profile: 'vpc-cni-legacy', implementation: 'real' });
    expect(node.cni).to.not.have.property('build');
    const current = eniRpFilterSuite.cells.find((c) => c.id.startsWith('vpc-cni.'))!;
    const head = withCniImplementation(current, { implementation: 'real', builds: { 'vpc-cni': '/b/head' } });
    expect((head.topology as { nodes: { cni: Record<string, unknown> }[] }).nodes[0]!.cni).to.deep.include({
      profile: 'vpc-cni',
      implementation: 'real',
      build: '/b/head',
    });
  });

  it('leaves other profiles emulated', () => {
    const c = lbSnatPolicyRoutingSuite.cells[0]!;
    expect(usesVpcCni(c.topology)).to.equal(false);
    expect(withCniImplementation(c, { implementation: 'real' })).to.equal(c);
  });
});
