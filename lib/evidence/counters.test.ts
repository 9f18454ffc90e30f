import { expect } from 'chai';
import {
  type CounterSnapshot,
  diffCounters,
  parseCounterDump,
  parseProcNetPairs,
  parseRtCache,
  snapshotCounters,
  sumRtCache,
} from './counters.js';
import { ValidationError, EnvironmentError, CommandError } from '../errors.js';
import { readTestdata, ScriptedExec } from './test-helpers.js';

const snmp = readTestdata('snmp.txt');
const netstat = readTestdata('netstat.txt');
const rtCache = readTestdata('rt_cache.txt');

function snap(
  counters: Record<string, number>,
  rtCachePerCpu: Record<string, number>[] = [],
): CounterSnapshot {
  return { host: 'h', takenAt: 0, counters, rtCachePerCpu, argv: [] };
}

describe('evidence/counters', () => {
  describe('parseProcNetPairs', () => {
    it('reads /proc/net/snmp (real sample) as Group.Field counters', () => {
      const c = parseProcNetPairs(snmp);
      expect(c['Tcp.OutRsts']).to.equal(4);
      expect(c['Tcp.InSegs']).to.equal(23);
      expect(c['Tcp.OutSegs']).to.equal(18);
      expect(c['Tcp.RetransSegs']).to.equal(2);
      expect(c['Tcp.AttemptFails']).to.equal(0);
      expect(c['Tcp.EstabResets']).to.equal(0);
      expect(c['Tcp.InErrs']).to.equal(0);
      expect(c['Tcp.MaxConn']).to.equal(-1);
      expect(c['Ip.InReceives']).to.equal(39);
      expect(c['Ip.InDelivers']).to.equal(29);
      expect(c['Icmp.OutDestUnreachs']).to.equal(6);
      expect(c['IcmpMsg.OutType3']).to.equal(6);
      expect(c['Udp.NoPorts']).to.equal(2);
      expect(c).to.have.property('UdpLite.InDatagrams', 0);
    });

    it('reads /proc/net/netstat (real sample): TcpExt, IpExt, MPTcpExt', () => {
      const c = parseProcNetPairs(netstat);
      expect(c['TcpExt.IPReversePathFilter']).to.equal(2);
      expect(c['TcpExt.ListenDrops']).to.equal(1);
      expect(c['TcpExt.TCPSynRetrans']).to.equal(2);
      expect(c['TcpExt.TCPAbortOnData']).to.equal(0);
      expect(c['TcpExt.TCPAbortOnClose']).to.equal(0);
      expect(c['IpExt.InOctets']).to.equal(2195);
      expect(Object.keys(c).filter((k) => k.startsWith('TcpExt.TCPAbortOn'))).to.include.members([
        'TcpExt.TCPAbortOnTimeout',
        'TcpExt.TCPAbortOnLinger',
        'TcpExt.TCPAbortOnMemory',
      ]);
    });

    it('rejects a header whose values line does not match', () => {
      expect(() => parseProcNetPairs('Tcp: A B\nTcp: 1\n')).to.throw(ValidationError, /unpaired/);
      expect(() => parseProcNetPairs('Tcp: A B\nUdp: 1 2\n')).to.throw(ValidationError);
    });
  });

  describe('parseRtCache', () => {
    it('reads hex rows per CPU (real sample) and sums counters across CPUs', () => {
      const rows = parseRtCache(rtCache);
      expect(rows).to.have.length(2);
      expect(rows[0]?.['in_martian_src']).to.equal(1);
      expect(rows[1]?.['in_martian_src']).to.equal(4);
      const sum = sumRtCache(rows);
      expect(sum['rt_cache.in_martian_src']).to.equal(5);
      expect(sum['rt_cache.in_no_route']).to.equal(3);
      expect(sum['rt_cache.out_slow_tot']).to.equal(16);
      // `entries` is a machine-wide gauge repeated on every row: not summed.
      expect(sum['rt_cache.entries']).to.equal(0x0d);
    });

    it('parses hex digits above 9', () => {
      const rows = parseRtCache('entries  in_martian_src\n0000000a 000000ff\n0000000a 00000001\n');
      expect(sumRtCache(rows)['rt_cache.in_martian_src']).to.equal(256);
    });
  });

  it('parseCounterDump splits the concatenated output of one cat by header lines', () => {
    const { counters, rtCachePerCpu } = parseCounterDump(snmp + netstat + rtCache);
    expect(counters['Tcp.OutRsts']).to.equal(4);
    expect(counters['TcpExt.IPReversePathFilter']).to.equal(2);
    expect(counters['rt_cache.in_martian_src']).to.equal(5);
    expect(rtCachePerCpu).to.have.length(2);
  });

  describe('diffCounters', () => {
    it('keeps only counters that changed, sorted by name', () => {
      const d = diffCounters(
        snap({ 'Tcp.OutRsts': 4, 'Tcp.InSegs': 10, 'Tcp.CurrEstab': 2 }),
        snap({ 'Tcp.OutRsts': 7, 'Tcp.InSegs': 10, 'Tcp.CurrEstab': 1, 'IcmpMsg.OutType3': 2 }),
      );
      expect(d).to.deep.equal({ 'IcmpMsg.OutType3': 2, 'Tcp.CurrEstab': -1, 'Tcp.OutRsts': 3 });
      expect(Object.keys(d)).to.deep.equal(['IcmpMsg.OutType3', 'Tcp.CurrEstab', 'Tcp.OutRsts']);
    });

    it('compares rt_cache per CPU modulo 2^32, so a wrapped row is not negative', () => {
      const before = [
        { entries: 5, in_martian_src: 0xfffffffe },
        { entries: 5, in_martian_src: 3 },
      ];
      const after = [
        { entries: 6, in_martian_src: 0x00000001 },
        { entries: 6, in_martian_src: 3 },
      ];
      const d = diffCounters(snap(sumRtCache(before), before), snap(sumRtCache(after), after));
      expect(d['rt_cache.in_martian_src']).to.equal(3);
      expect(d['rt_cache.entries']).to.equal(1);
    });
  });

  describe('snapshotCounters', () => {
    it('reads all three files in one process and names counters', async () => {
      const exec = new ScriptedExec('node/b', { cat: { stdout: snmp + netstat + rtCache } });
      const s = await snapshotCounters(exec);
      expect(exec.calls).to.deep.equal([
        ['cat', '/proc/net/snmp', '/proc/net/netstat', '/proc/net/stat/rt_cache'],
      ]);
      expect(s.host).to.equal('node/b');
      expect(s.counters['Tcp.OutRsts']).to.equal(4);
      expect(s.argv).to.deep.equal([
        'scripted',
        'node/b',
        'cat',
        '/proc/net/snmp',
        '/proc/net/netstat',
        '/proc/net/stat/rt_cache',
      ]);
    });

    it('tolerates a missing rt_cache but not missing snmp/netstat', async () => {
      const noRt = new ScriptedExec('h', {
        cat: { code: 1, stdout: snmp + netstat, stderr: 'cat: rt_cache: No such file' },
      });
      expect((await snapshotCounters(noRt)).counters['rt_cache.in_martian_src']).to.equal(undefined);
      const broken = new ScriptedExec('h', {
        cat: { code: 1, stdout: '', stderr: 'cat: /proc/net/snmp: No such file' },
      });
      await snapshotCounters(broken).then(
        () => expect.fail('should throw'),
        (e: unknown) => expect(e).to.be.instanceOf(CommandError),
      );
    });

    it('reports a missing cat as an EnvironmentError', async () => {
      const exec = new ScriptedExec('h', {});
      await snapshotCounters(exec).then(
        () => expect.fail('should throw'),
        (e: unknown) =>
          expect(e)
            .to.be.instanceOf(EnvironmentError)
            .with.property('message')
            .that.matches(/h: cat/),
      );
    });
  });
});
