import { expect } from 'chai';
import { ValidationError } from '../errors.js';
import { judge } from './verdict.js';
import { tally, type Tally } from './tally.js';
import type { Expectation } from './expectation.js';

function outcomes(counts: Record<string, number>): Tally {
  return tally(Object.entries(counts).flatMap(([o, n]) => Array<string>(n).fill(o)));
}

describe('judge', () => {
  describe('all / none (exact)', () => {
    const all: Expectation = { kind: 'all', outcome: 'connected' };
    const none: Expectation = { kind: 'none', outcome: 'reset' };

    it('passes when every attempt had the outcome', () => {
      expect(judge(all, outcomes({ connected: 3 })).status).to.equal('pass');
    });
    it('fails on a single counter-example', () => {
      const v = judge(all, outcomes({ connected: 999, timeout: 1 }));
      expect(v.status).to.equal('fail');
      expect(v.reason).to.contain('999/1000 connected');
    });
    it('none passes without the outcome and fails with one', () => {
      expect(judge(none, outcomes({ connected: 10 })).status).to.equal('pass');
      expect(judge(none, outcomes({ connected: 9, reset: 1 })).status).to.equal('fail');
    });
    it('is inconclusive without attempts', () => {
      expect(judge(all, tally([])).status).to.equal('inconclusive');
      expect(judge(none, tally([])).status).to.equal('inconclusive');
    });
  });

  describe('rate', () => {
    const half: Expectation = { kind: 'rate', outcome: 'timeout', min: 0.3, max: 0.7 };

    it('passes when the interval lies inside the bounds', () => {
      // 100/200: [0.431, 0.569]
      const v = judge(half, outcomes({ timeout: 100, connected: 100 }));
      expect(v.status).to.equal('pass');
      expect(v.interval.low).to.be.closeTo(0.4314, 1e-4);
      expect(v.rate).to.equal(0.5);
    });
    it('fails when the interval lies entirely outside', () => {
      // 10/200: [0.0274, 0.0897] below 0.3
      expect(judge(half, outcomes({ timeout: 10, connected: 190 })).status).to.equal('fail');
      // 195/200 above 0.7
      expect(judge(half, outcomes({ timeout: 195, connected: 5 })).status).to.equal('fail');
    });
    it('is inconclusive when the interval straddles a bound', () => {
      // 3/10: [0.108, 0.603] crosses 0.3
      const v = judge(half, outcomes({ timeout: 3, connected: 7 }));
      expect(v.status).to.equal('inconclusive');
      expect(v.reason).to.contain('overlaps');
    });
    it('judges small samples inconclusive rather than wrong', () => {
      // 1/2 is a 50% rate, but [0.095, 0.905] says little.
      expect(judge(half, outcomes({ timeout: 1, connected: 1 })).status).to.equal('inconclusive');
    });
    it('passes a zero rate against [0, max] once the upper bound is low enough', () => {
      const rare: Expectation = { kind: 'rate', outcome: 'reset', min: 0, max: 0.05 };
      expect(judge(rare, outcomes({ connected: 20 })).status).to.equal('inconclusive'); // upper 0.161
      expect(judge(rare, outcomes({ connected: 200 })).status).to.equal('pass'); // upper 0.019
    });
  });

  it('rejects malformed expectations with paths', () => {
    const bad = { kind: 'rate', outcome: 'timeout', min: 0.8, max: 1.2 } as Expectation;
    expect(() => judge(bad, tally(['timeout'])))
      .to.throw(ValidationError)
      .with.property('problems')
      .that.deep.includes({
        path: 'expectation.max',
        value: '1.2',
        message: 'must be a proportion in [0, 1]',
      });
    const inverted = { kind: 'rate', outcome: 'timeout', min: 0.6, max: 0.4 } as Expectation;
    expect(() => judge(inverted, tally([]))).to.throw(ValidationError, /must not exceed max/);
  });
});
