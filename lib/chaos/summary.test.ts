import { expect } from 'chai';
import type { TimelineSample, TimelineWindow } from '../scenario/result.js';
import { overlaps, partition, summarizeTimeline, summarizeWindows } from './summary.js';

/** One attempt every 10 ms from 0 to end (exclusive); outcome by start time; timeouts last 300 ms. */
function series(endMs: number, outcome: (t: number) => string): TimelineSample[] {
  const out: TimelineSample[] = [];
  for (let t = 0; t < endMs; t += 10) {
    const o = outcome(t);
    out.push({ t, outcome: o, ms: o === 'connected' ? 1 : o === 'timeout' ? 300 : 2 });
  }
  return out;
}

describe('chaos: summarizeTimeline', () => {
  const w: TimelineWindow = { label: 'rp_filter=1 on node-1/eth1', from: 1000, to: 2000 };

  it('a clean fault: failures exactly while applied', () => {
    // Attempts starting in [1000, 2000) time out; the last one ends at 1990 + 300.
    const s = series(4000, (t) => (t >= 1000 && t < 2000 ? 'timeout' : 'connected'));
    const m = summarizeTimeline(s, [w], { recoveryRun: 5 });
    expect(m['attempts']).to.equal(400);
    // 100 failing attempts inside, plus the success that starts right at the revert.
    expect(m['attemptsInside']).to.equal(101);
    expect(m['failureRateInside']).to.equal(0.9901); // rounded to 4 decimals
    expect(m['failureRateOutside']).to.equal(0);
    // Started while surely in effect (no apply/revert times given: the window itself): exactly the 100 failures.
    expect(m['attemptsUnderFault']).to.equal(100);
    expect(m['failuresUnderFault']).to.equal(100);
    expect(m['attemptsAfterRevert']).to.equal(200);
    expect(m['failuresAfterRevert']).to.equal(0);
    expect(m['windowMs']).to.equal(1290);
    expect(m['firstFailureMs']).to.equal(0);
    expect(m['recoveryMs']).to.equal(0);
  });

  it('an attempt in flight when the fault hits counts inside, and clamps the window start', () => {
    const s: TimelineSample[] = [
      { t: 900, outcome: 'timeout', ms: 300 },
      { t: 1300, outcome: 'connected', ms: 1 },
      ...series(3000, () => 'connected').filter((x) => x.t >= 2000),
    ];
    const [ws] = summarizeWindows(s, [w], { recoveryRun: 3 });
    expect(overlaps(s[0]!, w)).to.equal(true);
    expect(ws!.windowMs).to.equal(200);
    expect(ws!.firstFailureMs).to.equal(0);
  });

  it('a lingering effect: failures after revert extend the window and delay recovery', () => {
    // Failing until 2500 although reverted at 2000 (e.g. ports in TIME_WAIT, health thresholds).
    const s = series(4000, (t) => (t >= 1200 && t < 2500 ? 'other' : 'connected'));
    const m = summarizeTimeline(s, [w], { recoveryRun: 5 });
    expect(m['firstFailureMs']).to.equal(200);
    expect(m['windowMs']).to.equal(2492 - 1200);
    expect(m['recoveryMs']).to.equal(500);
    expect(m['failureRateOutside']).to.be.greaterThan(0);
  });

  it('random failures inside: steady success needs M in a row after revert', () => {
    const s = series(4000, (t) => (t >= 1000 && t < 2000 && (t / 10) % 3 === 0 ? 'timeout' : 'connected'));
    const m = summarizeTimeline(s, [w], { recoveryRun: 5 });
    expect(m['failureRateInside']).to.be.greaterThan(0.3).and.lessThan(0.35);
    expect(m['recoveryMs']).to.equal(0);
    // First failure starts at 1020, the last (1980) ends at 2280.
    expect(m['windowMs']).to.equal(1260);
  });

  it('never recovers: recoveryMs null, window to the last failure', () => {
    const s = series(3000, (t) => (t >= 1000 ? 'timeout' : 'connected'));
    const m = summarizeTimeline(s, [w]);
    expect(m['recoveryMs']).to.equal(null);
    expect(m['windowMs']).to.equal(2990 + 300 - 1000);
  });

  it('no visible effect: windowMs 0, firstFailureMs null', () => {
    const m = summarizeTimeline(
      series(3000, () => 'connected'),
      [w],
    );
    expect(m).to.include({ windowMs: 0, firstFailureMs: null, recoveryMs: 0, failureRateInside: 0 });
  });

  it('several windows: per-window figures and the worst overall', () => {
    const w2: TimelineWindow = { label: 'conntrack flushed on nlb', from: 3000, to: 3050 };
    const s = series(5000, (t) =>
      (t >= 1000 && t < 2000) || (t >= 3000 && t < 3100) ? 'reset' : 'connected',
    );
    const m = summarizeTimeline(s, [w, w2], { recoveryRun: 5 });
    expect(m['w0.windowMs']).to.equal(992);
    expect(m['w1.windowMs']).to.equal(92);
    expect(m['w1.recoveryMs']).to.equal(50);
    expect(m['windowMs']).to.equal(992);
    expect(m['recoveryMs']).to.equal(50);
    expect(m['firstFailureMs']).to.equal(null);
  });

  it('no windows, no attempts', () => {
    expect(summarizeTimeline([], [])).to.deep.equal({
      attempts: 0,
      attemptsOutside: 0,
      failureRateOutside: null,
      attemptsInside: 0,
      failureRateInside: null,
      attemptsUnderFault: 0,
      failuresUnderFault: 0,
      attemptsAfterRevert: 0,
      failuresAfterRevert: 0,
      windowMs: null,
      recoveryMs: null,
    });
  });

  it('partition: outside, under the fault (apply finished to revert started), after revert', () => {
    const win: TimelineWindow = { label: 'f', from: 1000, to: 2000, applied: 1050, reverting: 1900 };
    const s = series(3000, () => 'connected');
    const p = partition(s, [win]);
    // Outside: nothing of its lifetime (1 ms) touches [1000, 2000].
    expect(p.outside.map((x) => x.t))
      .to.include.members([0, 990, 2010])
      .and.not.include.members([1000, 2000]);
    expect(p.underFault[0]!.t).to.equal(1050);
    expect(p.underFault[p.underFault.length - 1]!.t).to.equal(1890);
    expect(p.afterRevert[0]!.t).to.equal(2000);
  });
});
