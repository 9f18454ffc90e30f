import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import { validateTopology } from '../model/topology.js';
import { requireLab } from '../lab/test-support.js';
import { runCell } from '../scenario/run-cell.js';
import { SUITES } from '../../suites/catalog.js';
import { certificateOf, certificationSuite, checkCni, requiredPaths } from './certify.js';
import { loadSnapshot } from './snapshot-load.js';

const sample = (name: string): string =>
  fileURLToPath(new URL(`../../../samples/snapshots/${name}`, import.meta.url));

describe('certification paths', () => {
  it('replays the image sysctls on every node, keeps the CNI its eth0 value, and swaps the CNI', async () => {
    const snap = await loadSnapshot(sample('hardened-rp-filter-1'));
    const suite = certificationSuite(SUITES, snap, 'vpc-cni-legacy', [
      'nlb-ip-secondary-eni',
      'nodeport-local',
    ]);
    expect(suite.cells.map((c) => c.id)).to.deep.equal(['nlb-ip-secondary-eni', 'nodeport-local']);
    const t = validateTopology(suite.cells[0]!.topology);
    const node = t.nodes[0]!;
    expect(node.cni.profile).to.equal('vpc-cni-legacy');
    expect(node.sysctls.all.rp_filter).to.equal(1);
    expect(node.sysctls.interfaces['eth1']?.rp_filter).to.equal(1);
    expect(node.sysctls.interfaces['eth0']?.rp_filter).to.equal(undefined); // the CNI writes eth0
    for (const c of suite.cells)
      expect(c.expect.outcome).to.deep.equal({ kind: 'all', outcome: 'connected' });
  });

  it('names unknown profiles and CNIs', () => {
    expect(() => requiredPaths('everything')).to.throw(ValidationError, /profiles: nlb-ip-targets/);
    expect(() => checkCni('cilium')).to.throw(ValidationError, /allowed: vpc-cni, vpc-cni-legacy/);
    expect(requiredPaths('nlb-ip-targets')).to.deep.equal(['nlb-ip-secondary-eni', 'nlb-ip-primary-eni']);
  });
});

describe('certification (real namespaces)', function () {
  this.timeout(60_000);
  before(function () {
    requireLab(this);
  });

  async function certify(
    sampleName: string,
    cni: 'vpc-cni' | 'vpc-cni-legacy',
    pathIds = ['nlb-ip-secondary-eni', 'nlb-ip-primary-eni'],
  ) {
    const snapshot = await loadSnapshot(sample(sampleName));
    const suite = certificationSuite(SUITES, snapshot, cni, pathIds);
    const results = await Promise.all(suite.cells.map((c) => runCell(c)));
    const profile = pathIds.includes('nlb-ip-secondary-eni') ? 'nlb-ip-targets' : 'all';
    return certificateOf({ snapshot, cni, profile, pathIds, results, runId: 'test' });
  }

  it('a strict image fails the secondary-ENI path with the legacy CNI, and says why and what fixes it', async () => {
    const cert = await certify('hardened-rp-filter-1', 'vpc-cni-legacy');
    expect(cert.certified).to.equal(false);
    const p = cert.paths.find((x) => x.id === 'nlb-ip-secondary-eni')!;
    expect(p.status).to.equal('unsupported');
    expect(p.mechanism)
      .to.match(/reverse-path filter/)
      .and.match(/eth1/);
    expect(p.fix).to.contain('net.ipv4.conf.eth1.rp_filter=2');
    expect(cert.paths.find((x) => x.id === 'nlb-ip-primary-eni')!.status).to.equal('supported');
  });

  it('a loose image passes them with the current CNI; with the legacy one the source/destination check remains', async () => {
    expect((await certify('loose.sysctl', 'vpc-cni')).certified).to.equal(true);
    const legacy = await certify('loose.sysctl', 'vpc-cni-legacy');
    const p = legacy.paths.find((x) => x.id === 'nlb-ip-secondary-eni')!;
    expect(p.status).to.equal('unsupported');
    expect(p.mechanism).to.match(/source\/destination check/);
    expect(p.fix).to.match(/vpc-cni >= 1\.8/);
  });

  it('seed 002 path: a strict image drops the SYN-ACK on eth0, a loose one passes', async () => {
    const path = ['pod-to-loadbalancer-ip'];
    const strict = await certify('hardened-rp-filter-1', 'vpc-cni', path);
    expect(strict.paths[0]!.status).to.equal('unsupported');
    expect(strict.paths[0]!.mechanism).to.match(/reverse-path filter/);
    expect((await certify('loose.sysctl', 'vpc-cni', path)).paths[0]!.status).to.equal('supported');
  });

  it('the strict image passes with the current CNI (rule 1536 makes eth1 the reverse path)', async () => {
    const cert = await certify('hardened-rp-filter-1', 'vpc-cni');
    expect(cert.certified).to.equal(true);
  });
});
