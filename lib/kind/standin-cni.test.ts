import { expect } from 'chai';
import { podRoutes, standinConflist } from './standin-cni.js';

describe('kind: CNI stand-in', () => {
  it("is kindnetd's plugin chain: ptp over the node's podCIDR with host-local, then portmap, no masquerade", () => {
    const c = JSON.parse(standinConflist('10.244.1.0/24')) as {
      cniVersion: string;
      plugins: { type: string; ipMasq?: boolean; ipam?: { type: string; ranges: { subnet: string }[][] } }[];
    };
    expect(c.cniVersion).to.equal('1.0.0');
    expect(c.plugins.map((p) => p.type)).to.deep.equal(['ptp', 'portmap']);
    expect(c.plugins[0]!.ipMasq).to.equal(false);
    expect(c.plugins[0]!.ipam).to.deep.include({ type: 'host-local' });
    expect(c.plugins[0]!.ipam!.ranges).to.deep.equal([[{ subnet: '10.244.1.0/24' }]]);
  });

  it("routes every other node's pods via that node", () => {
    const nodes = [
      { name: 'cp', address: '172.18.0.2', podCIDR: '10.244.0.0/24' },
      { name: 'w1', address: '172.18.0.3', podCIDR: '10.244.1.0/24' },
      { name: 'w2', address: '172.18.0.4', podCIDR: '10.244.2.0/24' },
    ];
    expect(podRoutes('w1', nodes)).to.deep.equal([
      'route replace 10.244.0.0/24 via 172.18.0.2',
      'route replace 10.244.2.0/24 via 172.18.0.4',
    ]);
  });
});
