import { expect } from 'chai';
import {
  diffRules,
  formatRule,
  parseIptablesSave,
  snapshotRules,
  tokenizeRule,
  type IptablesRules,
} from './iptables.js';
import { ValidationError } from '../errors.js';
import { readTestdata, ScriptedExec } from './test-helpers.js';

const sample = readTestdata('iptables-save-c.txt');

describe('evidence/iptables', () => {
  it('tokenizes quoted comments with escapes', () => {
    expect(tokenizeRule('-m comment --comment "a \\"b\\" c" -j DROP')).to.deep.equal([
      '-m',
      'comment',
      '--comment',
      'a "b" c',
      '-j',
      'DROP',
    ]);
    expect(tokenizeRule('--comment ""')).to.deep.equal(['--comment', '']);
  });

  describe('parseIptablesSave (real `iptables-save -c` sample)', () => {
    const parsed = parseIptablesSave(sample);

    it('reads every table, chain policy and policy counter', () => {
      const tables = [...new Set(parsed.chains.map((c) => c.table))];
      expect(tables).to.deep.equal(['mangle', 'raw', 'filter', 'nat']);
      expect(parsed.chains).to.deep.include({
        table: 'filter',
        chain: 'FORWARD',
        policy: 'DROP',
        packets: 0,
        bytes: 0,
      });
      expect(parsed.chains).to.deep.include({
        table: 'filter',
        chain: 'INPUT',
        policy: 'ACCEPT',
        packets: 3,
        bytes: 120,
      });
      expect(parsed.chains).to.deep.include({
        table: 'filter',
        chain: 'RP-TEST',
        policy: null,
        packets: 0,
        bytes: 0,
      });
    });

    it('reads rules with counters, position, target and comment', () => {
      const input = parsed.rules.filter((r) => r.table === 'filter' && r.chain === 'INPUT');
      expect(input.map((r) => r.index)).to.deep.equal([1, 2, 3, 4, 5, 6]);
      expect(input[2]).to.deep.equal({
        table: 'filter',
        chain: 'INPUT',
        index: 3,
        rule: '-p tcp -m tcp --dport 81 -m comment --comment "returnpath:test drop 81" -j DROP',
        packets: 1,
        bytes: 60,
        comment: 'returnpath:test drop 81',
        target: 'DROP',
      });
      expect(input[3]).to.include({ target: 'REJECT', packets: 1 });
      expect(input[3]).to.not.have.property('comment');
      expect(input[5]).to.include({ target: 'RP-TEST', packets: 6, bytes: 300 });
      const sdc = parsed.rules.find((r) => r.chain === 'FORWARD');
      expect(sdc).to.include({
        comment: 'returnpath:source-dest-check node-a/eth1',
        target: 'DROP',
        packets: 0,
      });
      const dnat = parsed.rules.find((r) => r.chain === 'KUBE-SVC-TEST');
      expect(dnat).to.include({
        table: 'nat',
        target: 'DNAT',
        comment: 'default/web:http -> 10.98.0.2:80',
        packets: 1,
      });
      const notrack = parsed.rules.find((r) => r.table === 'raw');
      expect(notrack).to.include({ target: 'NOTRACK', rule: '-p udp -m udp --dport 5353 -j NOTRACK' });
    });

    it('reads output without counters as zero', () => {
      const p = parseIptablesSave('*filter\n:INPUT ACCEPT\n-A INPUT -j DROP\nCOMMIT\n');
      expect(p.rules[0]).to.include({ packets: 0, bytes: 0, target: 'DROP' });
      expect(p.chains[0]).to.include({ policy: 'ACCEPT', packets: 0 });
    });

    it('rejects lines it does not understand, with line numbers', () => {
      expect(() => parseIptablesSave('-A INPUT -j DROP\n*filter\nbogus\nCOMMIT\n'))
        .to.throw(ValidationError)
        .with.property('problems')
        .that.has.length(2);
    });
  });

  describe('diffRules', () => {
    const rules = (text: string): IptablesRules =>
      parseIptablesSave(`*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n${text}COMMIT\n`);

    it('reports only rules whose counters rose, with the delta', () => {
      const before = parseIptablesSave(sample);
      const after = parseIptablesSave(
        sample
          .replace('[1:60] -A INPUT -p tcp -m tcp --dport 81', '[4:240] -A INPUT -p tcp -m tcp --dport 81')
          .replace(':FORWARD DROP [0:0]', ':FORWARD DROP [2:120]'),
      );
      const d = diffRules(before, after);
      expect(d.rules).to.have.length(1);
      expect(d.rules[0]).to.include({
        table: 'filter',
        chain: 'INPUT',
        index: 3,
        packets: 3,
        bytes: 180,
        target: 'DROP',
      });
      expect(d.policies).to.deep.equal([
        { table: 'filter', chain: 'FORWARD', policy: 'DROP', packets: 2, bytes: 120 },
      ]);
    });

    it('follows a rule whose position moved, and counts a new rule from zero', () => {
      const before = rules('[5:300] -A INPUT -p tcp -j DROP\n');
      const after = rules('[2:100] -A INPUT -p udp -j ACCEPT\n[7:420] -A INPUT -p tcp -j DROP\n');
      const d = diffRules(before, after);
      expect(d.rules.map((r) => [r.rule, r.index, r.packets])).to.deep.equal([
        ['-p udp -j ACCEPT', 1, 2],
        ['-p tcp -j DROP', 2, 2],
      ]);
    });

    it('tells identical rules apart by occurrence, and marks reset counters', () => {
      const before = rules('[5:300] -A INPUT -j DROP\n[1:60] -A INPUT -j DROP\n');
      const after = rules('[2:120] -A INPUT -j DROP\n[3:180] -A INPUT -j DROP\n');
      const d = diffRules(before, after);
      expect(d.rules).to.deep.equal([
        {
          table: 'filter',
          chain: 'INPUT',
          index: 1,
          rule: '-j DROP',
          target: 'DROP',
          packets: 2,
          bytes: 120,
          reset: true,
        },
        {
          table: 'filter',
          chain: 'INPUT',
          index: 2,
          rule: '-j DROP',
          target: 'DROP',
          packets: 2,
          bytes: 120,
        },
      ]);
    });
  });

  it('formatRule names table, chain and position', () => {
    expect(formatRule({ table: 'filter', chain: 'INPUT', index: 3, rule: '-j DROP' })).to.equal(
      'filter/INPUT#3: -A INPUT -j DROP',
    );
  });

  it('snapshotRules runs iptables-save -c once', async () => {
    const exec = new ScriptedExec('node/b', { 'iptables-save': { stdout: sample } });
    const s = await snapshotRules(exec);
    expect(exec.calls).to.deep.equal([['iptables-save', '-c']]);
    expect(s.rules.length).to.equal(14);
    expect(s.argv).to.deep.equal(['scripted', 'node/b', 'iptables-save', '-c']);
  });
});
