import { expect } from 'chai';
import { failureCheck, timelineChecks } from './chaos-checks.js';
import type { Timeline, TimelineSample } from './result.js';

const s = (t: number, outcome = 'connected', extra: Partial<TimelineSample> = {}): TimelineSample => ({
  t,
  outcome,
  ms: outcome === 'connected' ? 2 : 250,
  ...extra,
});

describe('chaos bounds', () => {
  it('judges all / none exactly, naming the attempts that broke the bound', () => {
    expect(failureCheck('x', [s(0, 'timeout'), s(1, 'timeout')], 'all').status).to.equal('pass');
    const none = failureCheck(
      'x',
      [s(0), s(5, 'timeout', { phase: 'connect', port: 41000, stallMs: 300 })],
      'none',
    );
    expect(none.status).to.equal('fail');
    expect(none.detail).to.equal(
      'expected none to fail: 1/2 failed: timeout (connect, port 41000, deadline fired 300 ms late) at +5 ms',
    );
    expect(failureCheck('x', [], 'none').status).to.equal('inconclusive');
    expect(failureCheck('x', [s(0), s(1, 'refused')], 'some').status).to.equal('pass');
  });

  it('judges a share with its 95% interval: pass inside the band, fail outside, inconclusive across', () => {
    const of = (k: number, n: number) =>
      Array.from({ length: n }, (_, i) => s(i, i < k ? 'timeout' : 'connected'));
    expect(failureCheck('x', of(87, 240), { min: 0.163, max: 0.563 }).status).to.equal('pass');
    expect(failureCheck('x', of(10, 240), { min: 0.163, max: 0.563 }).status).to.equal('fail');
    expect(failureCheck('x', of(7, 40), { min: 0.163, max: 0.563 }).status).to.equal('inconclusive');
  });

  it('splits a timeline by when attempts started; recovery is none failing after revert, however long a run takes', () => {
    const t: Timeline = {
      samples: [s(0), s(950), s(1100, 'timeout'), s(1800, 'timeout'), s(2600), s(5000)],
      windows: [{ label: 'f', from: 1000, to: 2500, applied: 1050, reverting: 2000 }],
      metrics: {},
    };
    const checks = timelineChecks(t, { inside: 'all' });
    expect(checks.map((c) => [c.name, c.status])).to.deep.equal([
      ['failures outside the fault', 'pass'],
      ['failures while the fault is in effect', 'pass'],
      ['failures after revert', 'pass'],
    ]);
  });

  it('an effect that ends when the NLB takes the target out: some fail before, none after', () => {
    const t: Timeline = {
      samples: [s(0), s(1100, 'timeout'), s(1200), s(1300, 'timeout'), s(1600), s(1700), s(4000)],
      windows: [{ label: 'zone lost', from: 1000, to: 3000, applied: 1050, reverting: 2900 }],
      metrics: {},
    };
    const bound = { endsWhenUnhealthy: { nlb: 'n', target: 'pod/a:80' } };
    const [, ends] = timelineChecks(t, bound, { t: 1500, detail: 'az-b took pod/a:80 out at +1500 ms' });
    expect(ends!.status).to.equal('pass');
    expect(ends!.detail).to.contain(
      'before: expected some to fail: 2/3 failed; after: expected none to fail: 0/2 failed',
    );
    expect(timelineChecks(t, bound, null)[1]!.status).to.equal('fail');
    const late = timelineChecks(t, bound, { t: 1250, detail: 'late' })[1]!;
    expect(late.status).to.equal('fail');
  });
});
