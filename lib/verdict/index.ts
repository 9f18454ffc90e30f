export { wilson, Z95, type Interval } from './wilson.js';
export {
  describeExpectation,
  expectationProblems,
  percent,
  validateExpectation,
  type Expectation,
} from './expectation.js';
export { addTally, countOf, EMPTY_TALLY, tally, type Tally } from './tally.js';
export { judge, type JudgeOptions, type Verdict, type VerdictStatus } from './verdict.js';
export { decide, nextStep, type Decision, type DeciderOptions, type DeciderStep } from './decider.js';
