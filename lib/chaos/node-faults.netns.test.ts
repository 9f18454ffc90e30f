/**
 * Integration: faults on the nodes of seed 003's normal EKS paths (issue 7): an ENI down, the
 * CNI's policy routing wiped, kube-proxy's rules wiped or changed; and fingerprints themselves.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { LabAgents } from '../lab/agents.js';
import { labContributors } from '../lab/contributors.js';
import { Lab } from '../lab/lab.js';
import { requireLab } from '../lab/test-support.js';
import { loadTopology } from '../model/topology.js';
import { labChaosContext, type ChaosContext } from './fault.js';
import { diffFingerprint, fingerprint, fingerprintAll, formatDifferences } from './fingerprint.js';
import { endpointsChange, kubeProxyWipe, linkDown, wipeRules } from './faults/index.js';
import { exercise } from './test-helpers.js';

const example = (name: string): string =>
  fileURLToPath(new URL(`../../../examples/${name}.yaml`, import.meta.url));

const WEB_2 = '10.0.2.60';
const CLUSTER_IP = '172.20.10.10';

describe('chaos: node faults on seed 003 (real namespaces)', function () {
  this.timeout(30_000);
  let lab: Lab;
  let agents: LabAgents;
  let ctx: ChaosContext;

  before(async function () {
    requireLab(this);
    lab = await Lab.up(await loadTopology(example('seed-003-baseline')), { contributors: labContributors() });
    agents = new LabAgents(lab);
    ctx = labChaosContext(lab, { agents });
    await agents.serve(['web-1', 'web-2'], 8080);
  });
  after(async () => lab?.down());

  const probe = async (from: string, host: string, port: number, attempts = 10) =>
    (await agents.get(from)).probe({ kind: 'tcp', host, port, attempts, deadlineMs: 300 });

  it('ENI down: the pod behind it is unreachable; up again, the routes the kernel dropped (and added) are fixed', async () => {
    expect((await probe('other-net', WEB_2, 8080)).counts.connected).to.equal(10);
    const fault = linkDown('node-b', 'eth1');
    const ex = await exercise(ctx, fault, () => probe('other-net', WEB_2, 8080), ['fabric']);
    expect(ex.during.counts.timeout, ex.during.reproduce).to.equal(10);
    // The revert re-added table 2's routes and deleted the subnet route the kernel put back in main.
    const revert = fault.commands.find((c) => c.includes('ip -batch -') && c.includes('route add'));
    expect(revert).to.match(/route add default via 10\.0\.2\.1 dev eth1 table 2/);
    expect(revert).to.match(/route del 10\.0\.2\.0\/24 dev eth1 table main proto kernel/);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    expect((await probe('other-net', WEB_2, 8080)).counts.connected).to.equal(10);
  });

  it('CNI rules and ENI table wiped: a pod on the secondary ENI leaves through eth0 and the source/dest check drops it', async () => {
    expect((await probe('client-a', WEB_2, 8080)).counts.connected).to.equal(10);
    const fault = wipeRules('node-a', { rules: 'all-non-default', routeTables: [2] });
    const ex = await exercise(ctx, fault, () => probe('client-a', WEB_2, 8080));
    expect(ex.during.counts.timeout, ex.during.reproduce).to.equal(10);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    expect((await probe('client-a', WEB_2, 8080)).counts.connected).to.equal(10);
  });

  it('kube-proxy rules wiped: the ClusterIP stops working on that node; the re-sync restores them exactly', async () => {
    const fault = kubeProxyWipe('node-c');
    const ex = await exercise(ctx, fault, () => probe('other-net', CLUSTER_IP, 80));
    console.log(`      ClusterIP without kube-proxy rules: ${JSON.stringify(ex.during.counts)}`);
    expect(ex.during.counts.connected).to.equal(0);
    expect(fault.wiped?.chains).to.be.greaterThan(5);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    const r = await probe('other-net', CLUSTER_IP, 80, 30);
    expect(r.counts.connected).to.equal(30);
    expect(new Set(r.attempts.map((a) => a.server))).to.deep.equal(new Set(['pod/web-1', 'pod/web-2']));
  });

  it('endpoints changed to none: kube-proxy rejects ClusterIP connections (refused)', async () => {
    const ex = await exercise(ctx, endpointsChange('node-c', 'demo/web', []), () =>
      probe('other-net', CLUSTER_IP, 80),
    );
    // REJECT answers with ICMP port unreachable, which the kernel rate-limits per destination (a
    // burst of 6, then one per second): the rest of a burst of attempts times out.
    console.log(`      ClusterIP with no endpoints: ${JSON.stringify(ex.during.counts)}`);
    expect(ex.during.counts.refused, ex.during.reproduce).to.be.greaterThan(0);
    expect(ex.during.counts.refused + ex.during.counts.timeout).to.equal(10);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
  });

  it('endpoints changed to one pod: every ClusterIP connection goes to it', async () => {
    const ex = await exercise(ctx, endpointsChange('node/node-c', 'web', ['web-2']), () =>
      probe('other-net', CLUSTER_IP, 80, 20),
    );
    expect(ex.during.counts.connected).to.equal(20);
    expect(new Set(ex.during.attempts.map((a) => a.server))).to.deep.equal(new Set(['pod/web-2']));
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
  });

  it('fingerprints of every namespace are stable across traffic, and see a changed sysctl', async () => {
    const hosts = lab.hosts.map((h) => lab.host(h.id));
    const before = await fingerprintAll(hosts);
    for (const f of before) expect(f.errors, f.host).to.deep.equal({});
    await probe('laptop', '198.51.100.10', 30081, 20);
    await probe('other-net', CLUSTER_IP, 80, 20);
    const again = await fingerprintAll(hosts);
    const diffs = before.flatMap((b, i) => diffFingerprint(b, again[i]!));
    expect(diffs, formatDifferences(diffs)).to.deep.equal([]);

    const node = lab.host('node-b');
    await node.run(['sysctl', '-q', '-w', 'net.ipv4.conf.eth1.rp_filter=1']);
    try {
      const changed = diffFingerprint(
        before.find((f) => f.host === 'node/node-b')!,
        await fingerprint(node),
      );
      expect(changed.map((d) => d.text)).to.deep.equal([
        'node/node-b sysctls: net.ipv4.conf.eth1.rp_filter = 0 -> 1',
      ]);
    } finally {
      await node.run(['sysctl', '-q', '-w', 'net.ipv4.conf.eth1.rp_filter=0']);
    }
  });
});
