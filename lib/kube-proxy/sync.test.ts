import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { parseTopology, type Topology } from '../model/topology.js';
import { expectedProxyState, observedProxyState, proxyStateDifferences } from './sync.js';

const testdata = new URL('../../../lib/kube-proxy/testdata/real-v1.36.3/', import.meta.url);

async function seed003(): Promise<Topology> {
  return parseTopology(
    await readFile(new URL('../../../examples/seed-003-baseline.yaml', import.meta.url), 'utf8'),
  );
}

describe('kube-proxy sync check', () => {
  for (const [mode, file] of [
    ['iptables', 'seed-003-node-a.iptables-save'],
    ['nftables', 'seed-003-node-a.nft'],
  ] as const)
    it(`reads the endpoints of each Service port from the real v1.36.3 rules (${mode})`, async () => {
      const t = await seed003();
      const dump = await readFile(new URL(file, testdata), 'utf8');
      const expected = expectedProxyState(t, 'node-a');
      expect(expected.get('demo/web-local:http/tcp')).to.deep.equal({
        cluster: ['10.0.1.50:8080'],
        local: ['10.0.1.50:8080'],
      });
      const observed = observedProxyState(mode, dump, expected.keys());
      expect(proxyStateDifferences(expected, observed)).to.deep.equal([]);
    });

  it('says what differs while kube-proxy has not synced a change', async () => {
    const t = await seed003();
    const dump = await readFile(new URL('seed-003-node-a.iptables-save', testdata), 'utf8');
    // web-2 went away: the rules still list it.
    const changed: Topology = {
      ...t,
      services: t.services.map((s) => (s.name === 'web' ? { ...s, endpoints: s.endpoints.slice(0, 1) } : s)),
    };
    const expected = expectedProxyState(changed, 'node-a');
    expect(
      proxyStateDifferences(expected, observedProxyState('iptables', dump, expected.keys())),
    ).to.deep.equal([
      'demo/web:http/tcp cluster chain: [10.0.1.50:8080, 10.0.2.60:8080], want [10.0.1.50:8080]',
    ]);
    // No endpoints at all: the chain must be gone.
    const none: Topology = { ...t, services: t.services.map((s) => ({ ...s, endpoints: [] })) };
    const e2 = expectedProxyState(none, 'node-a');
    expect(proxyStateDifferences(e2, observedProxyState('nftables', '', e2.keys()))).to.deep.equal([]);
    expect(proxyStateDifferences(e2, observedProxyState('iptables', dump, e2.keys()))).to.have.length(3);
  });
});
