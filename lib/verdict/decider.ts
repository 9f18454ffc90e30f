/**
 * Sequential decision: run attempts in batches until the verdict is pass or fail, or a cap is
 * reached (then it stays inconclusive). The policy (nextStep) is a pure function; decide() only
 * drives a caller-supplied batch runner.
 *
 * Note: looking at the interval after every batch makes the overall error rate somewhat higher
 * than the nominal 5%; use a larger z, fewer and larger batches, or bounds with margin when that matters.
 */
import type { Expectation } from './expectation.js';
import { addTally, EMPTY_TALLY, tally, type Tally } from './tally.js';
import { judge, type JudgeOptions, type Verdict } from './verdict.js';

export interface DeciderOptions extends JudgeOptions {
  /** Attempts per batch. */
  batch: number;
  /** Never run more than this many attempts in total. */
  cap: number;
}

export interface DeciderStep<O extends string = string> {
  verdict: Verdict<O>;
  /** Attempts to run next; 0 when decided or the cap is reached. */
  next: number;
}

export function nextStep<O extends string>(
  e: Expectation<O>,
  t: Tally,
  opts: DeciderOptions,
): DeciderStep<O> {
  if (!(Number.isInteger(opts.batch) && opts.batch > 0))
    throw new RangeError(`batch must be a positive integer, got ${opts.batch}`);
  if (!(Number.isInteger(opts.cap) && opts.cap > 0))
    throw new RangeError(`cap must be a positive integer, got ${opts.cap}`);
  const verdict = judge(e, t, opts);
  if (verdict.status !== 'inconclusive') return { verdict, next: 0 };
  const left = opts.cap - t.total;
  if (left <= 0) {
    return {
      verdict: { ...verdict, reason: `${verdict.reason} (cap of ${opts.cap} attempts reached)` },
      next: 0,
    };
  }
  return { verdict, next: Math.min(opts.batch, left) };
}

export interface Decision<O extends string = string> {
  verdict: Verdict<O>;
  tally: Tally;
  batches: number;
}

/** Run batches of attempts until decided. runBatch(n) returns the outcomes of n attempts. */
export async function decide<O extends string>(
  e: Expectation<O>,
  runBatch: (attempts: number) => Promise<Iterable<string>>,
  opts: DeciderOptions,
): Promise<Decision<O>> {
  let t = EMPTY_TALLY;
  let batches = 0;
  for (;;) {
    const step = nextStep(e, t, opts);
    if (step.next === 0) return { verdict: step.verdict, tally: t, batches };
    const got = tally(await runBatch(step.next));
    if (got.total === 0) throw new Error(`a batch of ${step.next} attempts returned no outcomes`);
    t = addTally(t, got);
    batches++;
  }
}
