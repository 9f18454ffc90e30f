/**
 * The emulated VPC CNI per generation, as running the real v1.23.2 and v1.7.10 showed (the
 * differences the differential suite found in rules, pinned here one by one).
 */
import { expect } from 'chai';
import { planLab } from '../lab/build-plan.js';
import { baseSpec } from '../model/topology.test.js';
import { validateTopology } from '../model/topology.js';

function node(cni: Record<string, unknown>): {
  config: string[];
  late: string[];
  nat: readonly string[];
  mangle: readonly string[];
} {
  const s = baseSpec();
  s.defaults = { cni: cni as never };
  const h = planLab(validateTopology(s), 'c0ffee').hosts.find((x) => x.id === 'node/n1')!;
  return {
    config: h.config,
    late: h.sysctlsLate.map(([k, v]) => `${k}=${v}`),
    nat: h.ruleset.lines('nat'),
    mangle: h.ruleset.lines('mangle'),
  };
}

describe('emulated VPC CNI, per generation', () => {
  it('v1.7: no rule 32765, no nat connmark, rule 1536 per VPC CIDR and SNAT exclusion', () => {
    const n = node({ profile: 'vpc-cni-legacy', excludeSnatCidrs: ['192.168.0.0/16'] });
    expect(n.config.some((l) => l.includes('pref 32765'))).to.equal(false);
    expect(n.config).to.include.members([
      'rule add from 10.0.1.50 to 10.0.0.0/16 lookup 2 pref 1536',
      'rule add from 10.0.1.50 to 192.168.0.0/16 lookup 2 pref 1536',
      'rule add fwmark 0x80/0x80 lookup main pref 1024',
    ]);
    expect(n.nat.some((l) => l.includes('CONNMARK'))).to.equal(false);
    expect(n.nat).to.include(
      '-A AWS-SNAT-CHAIN-1 ! -d 192.168.0.0/16 -m comment --comment "AWS SNAT CHAIN EXCLUSION" -j AWS-SNAT-CHAIN-2',
    );
    expect(n.late).to.include('net.ipv4.conf.eth0.rp_filter=2');
  });

  it('v1.7 without NodePort support: no rule 1024, no mangle rules, eth0 rp_filter left alone', () => {
    const n = node({ profile: 'vpc-cni-legacy', nodePortSupport: false });
    expect(n.config.some((l) => l.includes('pref 1024'))).to.equal(false);
    expect(n.mangle.filter((l) => l.startsWith('-A'))).to.deep.equal([]);
    expect(n.late).to.not.include('net.ipv4.conf.eth0.rp_filter=2');
  });

  it('1.8+ with external SNAT: no SNAT jump, no connmark; rule 1024 and the mangle rules for NodePorts only', () => {
    const n = node({ profile: 'vpc-cni', externalSNAT: true });
    expect(n.nat.some((l) => l.includes('-A POSTROUTING'))).to.equal(false);
    expect(n.nat.some((l) => l.includes('CONNMARK'))).to.equal(false);
    expect(n.config).to.include('rule add fwmark 0x80/0x80 lookup main pref 1024');
    const none = node({ profile: 'vpc-cni', externalSNAT: true, nodePortSupport: false });
    expect(none.config.some((l) => l.includes('pref 1024'))).to.equal(false);
    expect(none.mangle.filter((l) => l.startsWith('-A'))).to.deep.equal([]);
  });

  it('1.8+ options: connmark, port randomization and veth prefix reach the rules', () => {
    const n = node({ profile: 'vpc-cni', connmark: 0x100, randomizeSNAT: 'hashrandom', vethPrefix: 'abc' });
    expect(n.config).to.include('rule add fwmark 0x100/0x100 lookup main pref 1024');
    expect(n.nat.some((l) => l.endsWith('--to-source 10.0.1.10 --random'))).to.equal(true);
    expect(n.nat).to.include(
      '-A PREROUTING -i abc+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0',
    );
    expect(n.mangle).to.include(
      '-A PREROUTING -i abc+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x100 --ctmask 0x100',
    );
    expect(n.config.some((l) => /link set abc[0-9a-f]{11} up/.test(l))).to.equal(true);
  });
});
