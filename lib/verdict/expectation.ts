import { ValidationError, type ValidationProblem } from '../errors.js';

/**
 * What a cell expects of its attempts, as plain data.
 * - all: every attempt had the outcome (exact);
 * - none: no attempt had the outcome (exact);
 * - rate: the share of attempts with the outcome lies in [min, max] (judged with a confidence interval).
 */
export type Expectation<O extends string = string> =
  | { kind: 'all'; outcome: O }
  | { kind: 'none'; outcome: O }
  | { kind: 'rate'; outcome: O; min: number; max: number };

/** Problems with an expectation, each with its path; empty when valid. */
export function expectationProblems(e: Expectation, path = 'expectation'): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!['all', 'none', 'rate'].includes(e.kind)) {
    problems.push({ path: `${path}.kind`, value: String(e.kind), message: 'must be all, none or rate' });
  }
  if (typeof e.outcome !== 'string' || e.outcome === '') {
    problems.push({ path: `${path}.outcome`, value: String(e.outcome), message: 'must name an outcome' });
  }
  if (e.kind === 'rate') {
    for (const k of ['min', 'max'] as const) {
      const v = e[k];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        problems.push({ path: `${path}.${k}`, value: String(v), message: 'must be a proportion in [0, 1]' });
      }
    }
    if (e.min > e.max) {
      problems.push({ path: `${path}.min`, value: String(e.min), message: `must not exceed max (${e.max})` });
    }
  }
  return problems;
}

export function validateExpectation(e: Expectation, source = 'expectation'): void {
  const problems = expectationProblems(e);
  if (problems.length > 0) throw new ValidationError(source, problems);
}

export function percent(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

/** e.g. `all connected`, `no reset`, `timeout rate in [40%, 60%]`. */
export function describeExpectation(e: Expectation): string {
  switch (e.kind) {
    case 'all':
      return `all ${e.outcome}`;
    case 'none':
      return `no ${e.outcome}`;
    case 'rate':
      return `${e.outcome} rate in [${percent(e.min)}, ${percent(e.max)}]`;
  }
}
