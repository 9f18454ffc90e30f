import { describeExpectation, percent, validateExpectation, type Expectation } from './expectation.js';
import { countOf, type Tally } from './tally.js';
import { wilson, Z95, type Interval } from './wilson.js';

export type VerdictStatus = 'pass' | 'fail' | 'inconclusive';

export interface Verdict<O extends string = string> {
  status: VerdictStatus;
  expectation: Expectation<O>;
  /** Attempts judged. */
  trials: number;
  /** Attempts with the expected outcome. */
  hits: number;
  rate: number;
  /** Wilson interval of the rate. */
  interval: Interval;
  /** One line for humans: what was expected, what was seen, why this status. */
  reason: string;
}

export interface JudgeOptions {
  /** Normal quantile of the interval; default 1.96 (95%). */
  z?: number;
}

/**
 * Judge a tally against an expectation.
 * - all / none are exact: any counter-example fails; with no attempts the verdict is inconclusive.
 * - rate: pass when the Wilson interval lies inside [min, max], fail when it does not intersect
 *   [min, max], inconclusive otherwise (more attempts may decide it).
 */
export function judge<O extends string>(
  expectation: Expectation<O>,
  t: Tally,
  opts: JudgeOptions = {},
): Verdict<O> {
  validateExpectation(expectation);
  const hits = countOf(t, expectation.outcome);
  const trials = t.total;
  const interval = wilson(hits, trials, opts.z ?? Z95);
  const rate = trials === 0 ? 0 : hits / trials;
  const seen = `${hits}/${trials} ${expectation.outcome}`;
  const base = { expectation, trials, hits, rate, interval };
  const verdict = (status: VerdictStatus, why: string): Verdict<O> => ({
    ...base,
    status,
    reason: `expected ${describeExpectation(expectation)}: ${why}`,
  });
  if (trials === 0) return verdict('inconclusive', 'no attempts');
  switch (expectation.kind) {
    case 'all':
      return hits === trials ? verdict('pass', seen) : verdict('fail', `${seen}, ${trials - hits} not`);
    case 'none':
      return hits === 0 ? verdict('pass', seen) : verdict('fail', seen);
    case 'rate': {
      const ci = `${seen} = ${percent(rate)}, 95% interval [${percent(interval.low)}, ${percent(interval.high)}]`;
      if (interval.low >= expectation.min && interval.high <= expectation.max)
        return verdict('pass', `${ci} inside`);
      if (interval.high < expectation.min || interval.low > expectation.max)
        return verdict('fail', `${ci} outside`);
      return verdict('inconclusive', `${ci} overlaps the bounds`);
    }
  }
}
