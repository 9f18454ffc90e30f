import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { diffRules } from './iptables.js';
import { parseNftCounters } from './nft.js';

const sample = readFileSync(
  new URL('../../../lib/evidence/testdata/nft-aws-cni.txt', import.meta.url),
  'utf8',
);

describe('nftables counters (the real VPC CNI table)', () => {
  it('reads counters of tables iptables does not manage, with position and target', () => {
    const { rules } = parseNftCounters(
      sample,
      'Warning: table ip nat is managed by iptables-nft, do not touch!',
    );
    expect(rules).to.deep.equal([
      {
        table: 'nft ip aws-cni',
        chain: 'nat-prerouting',
        index: 2,
        rule: 'iifname "eni*" jump snat-mark',
        packets: 2,
        bytes: 120,
        target: 'snat-mark',
      },
      {
        table: 'nft ip aws-cni',
        chain: 'nat-prerouting',
        index: 3,
        rule: 'meta mark set ct mark & 0x00000080',
        packets: 5,
        bytes: 300,
      },
      {
        table: 'nft ip aws-cni',
        chain: 'snat-mark',
        index: 1,
        rule: 'ip daddr 10.0.0.0/16 return',
        packets: 1,
        bytes: 60,
        target: 'RETURN',
      },
      {
        table: 'nft ip aws-cni',
        chain: 'snat-mark',
        index: 2,
        rule: 'ct mark set ct mark | 0x00000080',
        packets: 1,
        bytes: 60,
      },
    ]);
  });

  it('diffs like iptables rules', () => {
    const before = parseNftCounters(sample);
    const after = parseNftCounters(
      sample.replace('counter packets 1 bytes 60 ct mark', 'counter packets 4 bytes 240 ct mark'),
    );
    expect(diffRules(before, after).rules).to.deep.equal([
      {
        table: 'nft ip aws-cni',
        chain: 'snat-mark',
        index: 2,
        rule: 'ct mark set ct mark | 0x00000080',
        packets: 3,
        bytes: 180,
      },
    ]);
  });
});
