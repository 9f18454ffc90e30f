import { expect } from 'chai';
import { EvidenceProbe, measure } from './probe.js';
import { readTestdata, ScriptedExec } from './test-helpers.js';

const counters = readTestdata('snmp.txt') + readTestdata('netstat.txt') + readTestdata('rt_cache.txt');
const rules = readTestdata('iptables-save-c.txt');

function hostWith(name: string, after: { resets: number; dropped: number }): ScriptedExec {
  return new ScriptedExec(name, {
    cat: [
      { stdout: counters },
      {
        stdout: counters.replace(
          /^(Tcp: 1 200 120000 -1 0 4 0 0 0 23 18 2 0) 4 0$/m,
          `$1 ${4 + after.resets} 0`,
        ),
      },
    ],
    'iptables-save': [
      { stdout: rules },
      {
        stdout: rules.replace(
          '[1:60] -A INPUT -p tcp -m tcp --dport 81',
          `[${1 + after.dropped}:60] -A INPUT -p tcp -m tcp --dport 81`,
        ),
      },
    ],
    conntrack: { stdout: readTestdata('conntrack-L.txt') },
  });
}

describe('evidence/probe', () => {
  it('measure snapshots every host before and after the action and returns per-host deltas', async () => {
    const a = hostWith('node/a', { resets: 0, dropped: 0 });
    const b = hostWith('node/b', { resets: 3, dropped: 2 });
    const order: string[] = [];
    const m = await measure([a, b], async () => {
      order.push(`action after ${a.calls.length + b.calls.length} commands`);
      return 'done';
    });
    expect(order).to.deep.equal(['action after 4 commands']);
    expect(m.result).to.equal('done');
    expect(m.deltas.map((d) => d.host)).to.deep.equal(['node/a', 'node/b']);
    expect(m.deltas[0]?.counters).to.deep.equal({});
    expect(m.deltas[0]?.rules).to.deep.equal({ rules: [], policies: [] });
    expect(m.deltas[1]?.counters).to.deep.equal({ 'Tcp.OutRsts': 3 });
    expect(m.deltas[1]?.rules.rules).to.have.length(1);
    expect(m.deltas[1]?.rules.rules[0]).to.include({ chain: 'INPUT', index: 3, packets: 2 });
    expect(m.deltas[1]?.commands).to.deep.equal([
      ['scripted', 'node/b', 'cat', '/proc/net/snmp', '/proc/net/netstat', '/proc/net/stat/rt_cache'],
      ['scripted', 'node/b', 'iptables-save', '-c'],
    ]);
    expect(b.calls).to.have.length(4);
  });

  it('skips rules when asked, and lists conntrack after the action when asked', async () => {
    const b = hostWith('node/b', { resets: 1, dropped: 0 });
    const probe = new EvidenceProbe([b], { rules: false, conntrack: true });
    await probe.start();
    const [d] = await probe.finish();
    expect(b.calls.map((c) => c[0])).to.deep.equal(['cat', 'cat', 'conntrack']);
    expect(d?.counters).to.deep.equal({ 'Tcp.OutRsts': 1 });
    expect(d?.conntrackAfter).to.have.length(7);
  });

  it('refuses finish() before start() and a second start()', async () => {
    const probe = new EvidenceProbe([hostWith('h', { resets: 0, dropped: 0 })], { rules: false });
    await probe.finish().then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/before start/),
    );
    await probe.start();
    await probe.start().then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/twice/),
    );
  });

  it('propagates an error from the action', async () => {
    await measure([hostWith('h', { resets: 0, dropped: 0 })], () => Promise.reject(new Error('boom'))).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.equal('boom'),
    );
  });
});
