import { expect } from 'chai';
import { requireLab } from '../lab/test-support.js';
import { eniRpFilterSuite } from '../../suites/eni-rp-filter.cells.js';
import type { CellSpec } from './cell.js';
import { runCell } from './run-cell.js';

const find = (id: string): CellSpec => eniRpFilterSuite.cells.find((c) => c.id === id)!;

/** The same expectation on a broken configuration: the node runs the legacy CNI instead. */
function broken(cell: CellSpec): CellSpec {
  const topology = structuredClone(cell.topology) as { nodes: { cni: { profile: string } }[] };
  topology.nodes[0]!.cni.profile = 'vpc-cni-legacy';
  return { ...cell, topology };
}

describe('cell runner (real namespaces)', function () {
  this.timeout(60_000);
  before(function () {
    requireLab(this);
  });

  it('passes a cell whose configuration works, with the client seen by the server', async () => {
    const r = await runCell(find('vpc-cni.snat-cni.rp-1.sdc-on'));
    expect(r.status, r.reason).to.equal('pass');
    expect(r.counts['connected']).to.equal(24);
    expect(r.sourcesSeen).to.deep.equal({ '203.0.113.10': 24 });
    expect(r.reproduce[0]).to.equal(
      "returnpath run --suite eni-rp-filter --grep 'vpc-cni\\.snat-cni\\.rp-1\\.sdc-on:'",
    );
  });

  it('fails the same cell when the configuration is broken, and the evidence says where', async () => {
    const r = await runCell(broken(find('vpc-cni.snat-cni.rp-1.sdc-on')));
    expect(r.status).to.equal('fail');
    expect(r.counts['timeout']).to.equal(24);
    const drop = r.evidence.find((e) => e.kind === 'drop' && e.reason === 'rp_filter');
    expect(drop?.host).to.equal('node/node-1');
  });

  it('reports an invalid topology as an error, not a verdict', async () => {
    const c = find('vpc-cni.snat-cni.rp-1.sdc-on');
    const r = await runCell({ ...c, topology: { apiVersion: 'returnpath/v1' } });
    expect(r.status).to.equal('error');
    expect(r.error).to.match(/topology/);
  });
});
