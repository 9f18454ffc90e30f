import { expect } from 'chai';
import { decide, nextStep } from './decider.js';
import { tally } from './tally.js';
import type { Expectation } from './expectation.js';

/** A deterministic batch runner: attempt i (counting across batches) has outcome pattern(i). */
function runner(pattern: (i: number) => string): { run: (n: number) => Promise<string[]>; asked: number[] } {
  let i = 0;
  const asked: number[] = [];
  return {
    asked,
    run: async (n) => {
      asked.push(n);
      return Array.from({ length: n }, () => pattern(i++));
    },
  };
}

describe('decider', () => {
  const half: Expectation = { kind: 'rate', outcome: 'timeout', min: 0.3, max: 0.7 };

  it('asks for a first batch, then stops once decided', () => {
    expect(nextStep(half, tally([]), { batch: 50, cap: 200 }).next).to.equal(50);
    const decided = nextStep(half, tally(Array<string>(200).fill('connected')), { batch: 50, cap: 400 });
    expect(decided.verdict.status).to.equal('fail');
    expect(decided.next).to.equal(0);
  });

  it('never asks beyond the cap', () => {
    const t = tally(['timeout', 'timeout', 'timeout', 'connected', 'connected', 'connected', 'connected']);
    expect(nextStep(half, t, { batch: 50, cap: 20 }).verdict.status).to.equal('inconclusive');
    expect(nextStep(half, t, { batch: 50, cap: 20 }).next).to.equal(13);
  });

  it('adds batches until the interval lies inside the bounds', async () => {
    const r = runner((i) => (i % 2 === 0 ? 'timeout' : 'connected'));
    const d = await decide(half, r.run, { batch: 10, cap: 1000 });
    expect(d.verdict.status).to.equal('pass');
    // 10 attempts: [0.237, 0.763] straddles; 20: [0.299, 0.701] still does; 30: [0.331, 0.669] inside.
    expect(r.asked).to.deep.equal([10, 10, 10]);
    expect(d.tally.total).to.equal(30);
    expect(d.batches).to.equal(3);
  });

  it('stays inconclusive at the cap', async () => {
    // A true rate of 30% sits on the bound: the interval keeps straddling it.
    const r = runner((i) => (i % 10 < 3 ? 'timeout' : 'connected'));
    const d = await decide(half, r.run, { batch: 40, cap: 100 });
    expect(d.verdict.status).to.equal('inconclusive');
    expect(d.verdict.reason).to.contain('cap of 100 attempts reached');
    expect(r.asked).to.deep.equal([40, 40, 20]);
  });

  it('decides exact expectations after one batch', async () => {
    const r = runner(() => 'connected');
    const d = await decide({ kind: 'all', outcome: 'connected' }, r.run, { batch: 25, cap: 200 });
    expect(d.verdict.status).to.equal('pass');
    expect(r.asked).to.deep.equal([25]);
  });

  it('rejects a batch runner that returns nothing', async () => {
    let err: unknown;
    try {
      await decide(half, async () => [], { batch: 5, cap: 10 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(Error);
  });
});
