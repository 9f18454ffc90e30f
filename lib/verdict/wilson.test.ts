import { expect } from 'chai';
import { wilson } from './wilson.js';

describe('wilson', () => {
  // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3.
  const known: [number, number, number, number][] = [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ];
  for (const [k, n, low, high] of known) {
    it(`${k}/${n} gives [${low}, ${high}]`, () => {
      const i = wilson(k, n);
      expect(i.low).to.be.closeTo(low, 5e-5);
      expect(i.high).to.be.closeTo(high, 5e-5);
    });
  }

  it('is exact at the edges and symmetric', () => {
    expect(wilson(0, 200)).to.deep.equal({ low: 0, high: wilson(0, 200).high });
    expect(wilson(200, 200).high).to.equal(1);
    expect(wilson(200, 200).low).to.be.closeTo(1 - wilson(0, 200).high, 1e-12);
    const half = wilson(100, 200);
    expect(half.low + half.high).to.be.closeTo(1, 1e-12);
  });

  it('knows nothing without trials', () => {
    expect(wilson(0, 0)).to.deep.equal({ low: 0, high: 1 });
  });

  it('narrows as trials grow', () => {
    const a = wilson(5, 10);
    const b = wilson(500, 1000);
    expect(b.high - b.low).to.be.lessThan(a.high - a.low);
  });

  it('rejects impossible counts', () => {
    expect(() => wilson(3, 2)).to.throw(RangeError);
    expect(() => wilson(-1, 2)).to.throw(RangeError);
    expect(() => wilson(1.5, 2)).to.throw(RangeError);
  });
});
