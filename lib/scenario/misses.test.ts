import { expect } from 'chai';
import { parseConntrack } from '../evidence/conntrack.js';
import { nlbCollisions } from '../evidence/collision.js';
import { describeMiss, entriesOf, missesExpectation } from './misses.js';

const TABLE_A = parseConntrack(
  [
    'tcp      6 115 SYN_SENT src=10.0.1.30 dst=10.0.1.100 sport=40007 dport=80 [UNREPLIED] src=10.0.1.10 dst=10.0.1.30 sport=32411 dport=40007 mark=0 use=1',
    'tcp      6 8 CLOSE src=10.0.1.30 dst=10.0.1.100 sport=40008 dport=80 src=10.0.2.10 dst=10.0.1.30 sport=32411 dport=40008 [ASSURED] mark=0 use=1',
  ].join('\n'),
);
const TABLE_B = parseConntrack(
  'tcp      6 8 CLOSE src=10.0.1.30 dst=10.0.2.100 sport=40007 dport=80 src=10.0.1.10 dst=10.0.1.30 sport=32411 dport=40007 [ASSURED] mark=0 use=1\n',
);

describe('missed attempts', () => {
  it('an attempt misses an all/none expectation when its outcome contradicts it; rates are judged on the whole', () => {
    expect(missesExpectation({ kind: 'all', outcome: 'connected' }, 'timeout')).to.equal(true);
    expect(missesExpectation({ kind: 'all', outcome: 'connected' }, 'connected')).to.equal(false);
    expect(missesExpectation({ kind: 'none', outcome: 'reset' }, 'reset')).to.equal(true);
    expect(missesExpectation({ kind: 'rate', outcome: 'timeout', min: 0.1, max: 0.4 }, 'timeout')).to.equal(
      false,
    );
  });

  it("finds an attempt's conntrack entries by its source address and port, on either side", () => {
    expect(entriesOf(TABLE_A, '10.0.1.30', 40007).map((e) => e.state)).to.deep.equal(['SYN_SENT']);
    expect(entriesOf(TABLE_A, '10.0.1.30', 40009)).to.deep.equal([]);
  });

  it('one line per miss', () => {
    expect(
      describeMiss({
        i: 7,
        outcome: 'timeout',
        phase: 'connect',
        from: '10.0.1.30:40007',
        to: '10.0.2.100:80',
        startedAt: '2026-01-01T00:00:00.000Z',
        ms: 250.6,
        evidence: [],
      }),
    ).to.equal('#7 timeout (connect) 10.0.1.30:40007 -> 10.0.2.100:80 after 251 ms');
  });
});

describe('NLB collisions', () => {
  it('one 5-tuple towards one target through two NLB nodes is a collision; another target is not', () => {
    const found = nlbCollisions([
      { host: 'nlb/x/az-a', entries: TABLE_A },
      { host: 'nlb/x/az-b', entries: TABLE_B },
    ]);
    expect(found.map((f) => [f.tuple, f.hosts])).to.deep.equal([
      ['10.0.1.30:40007 -> 10.0.1.10:32411', ['nlb/x/az-a', 'nlb/x/az-b']],
    ]);
    expect(found[0]!.entries[0]).to.match(
      /^nlb\/x\/az-a: tcp SYN_SENT 10\.0\.1\.30:40007 -> 10\.0\.1\.100:80/,
    );
  });
});
