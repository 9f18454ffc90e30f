import { expect } from 'chai';
import {
  MACHINE_HOST,
  describeEvidence,
  increased,
  unexplainedInbound,
  whereDropped,
  whoSentResets,
} from './attribution.js';
import type { HostDelta } from './probe.js';
import type { PolicyDelta, RuleDelta } from './iptables.js';

function delta(
  host: string,
  counters: Record<string, number>,
  rules: RuleDelta[] = [],
  policies: PolicyDelta[] = [],
): HostDelta {
  return { host, counters, rules: { rules, policies }, elapsedMs: 5, commands: [] };
}

const dropRule = (packets: number, extra: Partial<RuleDelta> = {}): RuleDelta => ({
  table: 'filter',
  chain: 'INPUT',
  index: 3,
  rule: '-p tcp -m tcp --dport 81 -j DROP',
  target: 'DROP',
  packets,
  bytes: packets * 60,
  ...extra,
});

describe('evidence/attribution', () => {
  describe('whoSentResets', () => {
    it('names the hosts whose Tcp.OutRsts rose, most first, with abort reasons', () => {
      const r = whoSentResets([
        delta('pod/client', { 'Tcp.OutRsts': 2, 'TcpExt.TCPAbortOnData': 1, 'TcpExt.TCPAbortOnClose': 0 }),
        delta('node/a', { 'Tcp.InSegs': 4 }),
        delta('node/b', { 'Tcp.OutRsts': 5 }),
        delta('node/c', { 'Tcp.OutRsts': 2 }),
      ]);
      expect(r.map((x) => [x.host, x.count])).to.deep.equal([
        ['node/b', 5],
        ['node/c', 2],
        ['pod/client', 2],
      ]);
      expect(r[2]?.aborts).to.deep.equal({ TCPAbortOnData: 1 });
      expect(r[0]?.summary).to.equal('node/b sent 5 TCP resets (Tcp.OutRsts +5)');
      expect(r[2]?.summary).to.equal(
        'pod/client sent 2 TCP resets (Tcp.OutRsts +2); local aborts: TCPAbortOnData +1',
      );
    });

    it('returns nothing when nobody reset', () => {
      expect(whoSentResets([delta('a', { 'Tcp.OutRsts': 0 }), delta('b', {})])).to.deep.equal([]);
    });
  });

  it('increased lists any counter that rose', () => {
    expect(
      increased([delta('a', { 'Udp.NoPorts': 1 }), delta('b', { 'Udp.NoPorts': -1 })], 'Udp.NoPorts'),
    ).to.deep.equal([{ host: 'a', count: 1 }]);
  });

  describe('whereDropped', () => {
    it('reports rp_filter drops from TcpExt.IPReversePathFilter', () => {
      const [f, ...rest] = whereDropped([
        delta('node/a', { 'Tcp.OutSegs': 2 }),
        delta('node/b', { 'TcpExt.IPReversePathFilter': 2, 'Ip.InReceives': 2 }),
      ]);
      expect(rest).to.deep.equal([]);
      expect(f).to.deep.include({ host: 'node/b', reason: 'rp_filter', count: 2, scope: 'host' });
      expect(f?.summary).to.equal('node/b dropped 2 packets by the reverse-path filter (rp_filter)');
    });

    it('reports DROP and REJECT rules whose counters rose, with table/chain/rule/comment', () => {
      const found = whereDropped([
        delta('node/b', {}, [
          dropRule(3, {
            comment: 'returnpath:test drop 81',
            rule: '-p tcp --dport 81 -m comment --comment "returnpath:test drop 81" -j DROP',
          }),
          dropRule(1, {
            index: 4,
            rule: '-p tcp --dport 82 -j REJECT --reject-with tcp-reset',
            target: 'REJECT',
          }),
          dropRule(9, { index: 5, rule: '-p tcp --dport 80 -j ACCEPT', target: 'ACCEPT' }),
          dropRule(4, {
            table: 'nat',
            chain: 'KUBE-SVC-X',
            rule: '-j DNAT --to-destination 1.2.3.4:80',
            target: 'DNAT',
          }),
        ]),
      ]);
      expect(found.map((f) => [f.reason, f.count, f.rule?.target])).to.deep.equal([
        ['rule', 3, 'DROP'],
        ['rule', 1, 'REJECT'],
      ]);
      expect(found[0]?.detail).to.equal(
        'filter/INPUT#3: -A INPUT -p tcp --dport 81 -m comment --comment "returnpath:test drop 81" -j DROP ("returnpath:test drop 81")',
      );
      expect(found[0]?.rule).to.include({
        table: 'filter',
        chain: 'INPUT',
        comment: 'returnpath:test drop 81',
      });
      expect(found[0]?.summary).to.equal(
        'node/b dropped 3 packets by rule filter/INPUT#3 "returnpath:test drop 81"',
      );
      expect(found[1]?.summary).to.equal(
        'node/b rejected 1 packet by rule filter/INPUT#4 -p tcp --dport 82 -j REJECT --reject-with tcp-reset',
      );
    });

    it('labels the fabric source/destination check rules by their comment', () => {
      const [f] = whereDropped([
        delta('fabric', {}, [
          dropRule(4, {
            chain: 'FORWARD',
            index: 1,
            comment: 'returnpath:source-dest-check node-a/eth1',
            rule: '-s 10.0.1.0/24 -i node-a-eth1 -m comment --comment "returnpath:source-dest-check node-a/eth1" -j DROP',
          }),
        ]),
      ]);
      expect(f).to.deep.include({ host: 'fabric', reason: 'source-dest-check', count: 4 });
      expect(f?.detail).to.match(/^node-a\/eth1: filter\/FORWARD#1: /);
      expect(f?.summary).to.equal('fabric dropped 4 packets at the source/destination check of node-a/eth1');
    });

    it('reports a DROP chain policy whose counter rose', () => {
      const [f] = whereDropped([
        delta(
          'node/a',
          {},
          [],
          [{ table: 'filter', chain: 'FORWARD', policy: 'DROP', packets: 2, bytes: 80 }],
        ),
      ]);
      expect(f).to.deep.include({ reason: 'rule', count: 2, detail: 'filter/FORWARD policy DROP' });
    });

    it('pins a martian source on the only host with unexplained inbound packets', () => {
      const found = whereDropped([
        delta('node/a', { 'rt_cache.in_martian_src': 2, 'Ip.InReceives': 5, 'Ip.InDelivers': 5 }),
        delta('node/b', { 'rt_cache.in_martian_src': 2, 'Ip.InReceives': 2 }),
      ]);
      expect(found).to.have.length(1);
      expect(found[0]).to.deep.include({
        host: 'node/b',
        reason: 'martian-source',
        count: 2,
        scope: 'machine',
      });
      expect(found[0]?.summary).to.equal(
        'node/b dropped 2 packets as martian source (inferred: rt_cache.in_martian_src is machine-wide)',
      );
    });

    it('pins at most the packets the host could not account for (other namespaces add to rt_cache)', () => {
      const [f] = whereDropped([
        delta('node/a', { 'rt_cache.in_martian_src': 40, 'Ip.InReceives': 5, 'Ip.InDelivers': 5 }),
        delta('node/b', { 'rt_cache.in_martian_src': 41, 'Ip.InReceives': 2 }),
      ]);
      expect(f).to.deep.include({ host: 'node/b', reason: 'martian-source', count: 2 });
      expect(f?.detail).to.match(
        /^rt_cache\.in_martian_src \+41 \(machine-wide counter\); node\/b is the only/,
      );
    });

    it('does not count rp_filter drops (also in in_martian_src) as martians', () => {
      const found = whereDropped([
        delta('node/a', { 'rt_cache.in_martian_src': 2 }),
        delta('node/b', {
          'rt_cache.in_martian_src': 2,
          'TcpExt.IPReversePathFilter': 2,
          'Ip.InReceives': 2,
        }),
      ]);
      expect(found.map((f) => f.reason)).to.deep.equal(['rp_filter']);
    });

    it('does not pin a martian on a host whose undelivered packets other drops explain', () => {
      const d = delta(
        'node/a',
        { 'rt_cache.in_martian_src': 2, 'Ip.InReceives': 3, 'TcpExt.IPReversePathFilter': 1 },
        [dropRule(2)],
      );
      expect(unexplainedInbound(d)).to.equal(0);
      const martian = whereDropped([d]).find((f) => f.reason === 'martian-source');
      expect(martian).to.deep.include({ host: MACHINE_HOST, scope: 'machine', count: 1 });
      expect(martian?.detail).to.match(/in_martian_src \+2 \(−1 counted as rp_filter\).*no measured host/);
      expect(whereDropped([d], { pinnedOnly: true }).map((f) => f.reason)).to.deep.equal([
        'rule',
        'rp_filter',
      ]);
    });

    it('lists the candidates when several hosts could have dropped the martian', () => {
      const [f] = whereDropped([
        delta('node/a', { 'rt_cache.in_martian_src': 3, 'Ip.InReceives': 1 }),
        delta('node/b', { 'rt_cache.in_martian_src': 3, 'Ip.InReceives': 2 }),
      ]);
      expect(f).to.deep.include({ host: MACHINE_HOST, reason: 'martian-source', count: 3 });
      expect(f?.detail).to.contain('candidates with unexplained inbound packets: node/b (2), node/a (1)');
      expect(f?.summary).to.equal(
        '3 packets dropped as martian source somewhere on the machine (node/b or node/a)',
      );
    });

    it('orders findings by count, then host, then reason', () => {
      const found = whereDropped([
        delta('b', { 'TcpExt.IPReversePathFilter': 1 }, [dropRule(1)]),
        delta('a', { 'TcpExt.IPReversePathFilter': 1 }),
        delta('c', { 'TcpExt.IPReversePathFilter': 7 }),
      ]);
      expect(found.map((f) => `${f.host}:${f.reason}`)).to.deep.equal([
        'c:rp_filter',
        'a:rp_filter',
        'b:rp_filter',
        'b:rule',
      ]);
    });
  });

  it("attributes a node's unexplained inbound packets to a counter-less nftables table when told one drops there", () => {
    const counters = { 'Ip.InReceives': 10, 'Ip.InDelivers': 6 };
    const plain = delta('node/node-b', counters);
    expect(whereDropped([plain], { pinnedOnly: true })).to.deep.equal([]);
    const nft: HostDelta = { ...plain, nftablesDropTable: 'ip kube-proxy' };
    const [f] = whereDropped([nft], { pinnedOnly: true });
    expect(f).to.include({ host: 'node/node-b', reason: 'rule', count: 4, scope: 'host' });
    expect(f!.summary).to.equal(
      'node/node-b dropped 4 packets in nftables table ip kube-proxy (inferred from its IP counters)',
    );
  });

  it('describeEvidence lists resets then drops, one line each', () => {
    expect(
      describeEvidence([delta('node/b', { 'Tcp.OutRsts': 1, 'TcpExt.IPReversePathFilter': 2 })]),
    ).to.deep.equal([
      'node/b sent 1 TCP reset (Tcp.OutRsts +1)',
      'node/b dropped 2 packets by the reverse-path filter (rp_filter)',
    ]);
  });
});
