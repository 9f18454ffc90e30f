import { expect } from 'chai';
import type { HostDelta } from '../evidence/probe.js';
import { tally } from '../verdict/index.js';
import {
  combine,
  evidenceCheck,
  hostMatches,
  peerAddress,
  rateSummaries,
  sourceCheck,
  sourcesSeen,
} from './checks.js';

const delta = (
  host: string,
  counters: Record<string, number>,
  rules: HostDelta['rules'] = { rules: [], policies: [] },
): HostDelta => ({
  host,
  counters,
  rules,
  elapsedMs: 10,
  commands: [],
});

describe('cell checks', () => {
  it('matches host ids by name', () => {
    expect(hostMatches('node/node-1', 'node-1')).to.equal(true);
    expect(hostMatches('node/node-1', 'node/node-1')).to.equal(true);
    expect(hostMatches('node/node-10', 'node-1')).to.equal(false);
    expect(peerAddress('::ffff:10.0.0.1:5555')).to.equal('10.0.0.1');
  });

  it('counts the sources servers saw over connected attempts only', () => {
    const seen = sourcesSeen([
      { i: 0, outcome: 'connected', phase: 'answer', peer: '10.0.0.1:1', startMs: 0, ms: 1 },
      { i: 1, outcome: 'connected', phase: 'answer', peer: '::ffff:10.0.0.1:2', startMs: 0, ms: 1 },
      { i: 2, outcome: 'timeout', phase: 'connect', peer: '10.0.0.9:2', startMs: 0, ms: 1 },
    ] as never);
    expect(seen).to.deep.equal({ '10.0.0.1': 2 });
    expect(sourceCheck(seen, ['10.0.0.1'], 'the client').status).to.equal('pass');
    const bad = sourceCheck({ ...seen, '10.0.0.2': 1 }, ['10.0.0.1'], 'the client');
    expect(bad.status).to.equal('fail');
    expect(bad.detail).to.contain('10.0.0.2 ×1');
    expect(sourceCheck({}, ['10.0.0.1'], 'x').status).to.equal('inconclusive');
  });

  it('finds resets and rp_filter drops on the named host, and fails without them', () => {
    const deltas = [
      delta('pod/netshoot', { 'Tcp.OutRsts': 5 }),
      delta('node/node-1', { 'TcpExt.IPReversePathFilter': 12 }),
    ];
    expect(evidenceCheck(deltas, { kind: 'resets-from', host: 'netshoot' }).status).to.equal('pass');
    expect(evidenceCheck(deltas, { kind: 'resets-from', host: 'node-1' }).status).to.equal('fail');
    expect(evidenceCheck(deltas, { kind: 'drop', host: 'node-1', reason: 'rp_filter' }).status).to.equal(
      'pass',
    );
    expect(evidenceCheck(deltas, { kind: 'drop', host: 'node-2', reason: 'rp_filter' }).status).to.equal(
      'fail',
    );
  });

  it('no-drop passes only when the host dropped nothing for that reason', () => {
    const deltas = [delta('node/node-1', { 'TcpExt.IPReversePathFilter': 12 })];
    const none = { kind: 'no-drop', host: 'node-1', reason: 'rp_filter' } as const;
    expect(evidenceCheck(deltas, none).status).to.equal('fail');
    expect(evidenceCheck(deltas, none).detail).to.contain('reverse-path');
    expect(evidenceCheck(deltas, { ...none, host: 'node-2' }).status).to.equal('pass');
    expect(evidenceCheck(deltas, { ...none, reason: 'source-dest-check' })).to.deep.equal({
      name: 'evidence: no source-dest-check drop on node-1',
      status: 'pass',
      detail: 'no source-dest-check drop counted on node-1',
    });
  });

  it('pins a source/destination check drop on the ENI named in the rule comment', () => {
    const rules = {
      rules: [
        {
          table: 'raw',
          chain: 'RP-SDC-n0e0',
          index: 1,
          rule: '-A RP-SDC-n0e0 -j DROP',
          comment: 'returnpath:source-dest-check node-1/eth0',
          target: 'DROP',
          packets: 3,
          bytes: 180,
        },
      ],
      policies: [],
    } as unknown as HostDelta['rules'];
    const deltas = [delta('fabric', {}, rules)];
    const on = (eni: string) =>
      evidenceCheck(deltas, { kind: 'drop', host: 'fabric', reason: 'source-dest-check', eni }).status;
    expect(on('node-1/eth0')).to.equal('pass');
    expect(on('node-1/eth1')).to.equal('fail');
  });

  it('combines checks: any fail fails, then inconclusive, else pass', () => {
    const c = (status: 'pass' | 'fail' | 'inconclusive') => ({ name: status, status, detail: '' });
    expect(combine([c('pass'), c('inconclusive')])).to.equal('inconclusive');
    expect(combine([c('inconclusive'), c('fail')])).to.equal('fail');
    expect(combine([c('pass')])).to.equal('pass');
  });

  it('summarises rates with Wilson intervals', () => {
    const r = rateSummaries(tally(['timeout', 'connected', 'connected', 'connected']));
    expect(r['connected']!.rate).to.equal(0.75);
    expect(r['connected']!.low).to.be.below(0.75);
    expect(r['timeout']!.high).to.be.above(0.25);
  });
});
