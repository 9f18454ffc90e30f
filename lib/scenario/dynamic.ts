/**
 * A suite built at run time (certification builds one from a node image): the run command sets it
 * before mocha loads suites/dynamic.spec.js, which describes it. Plain mocha finds none and skips.
 */
import type { SuiteSpec } from './cell.js';

let current: SuiteSpec | undefined;

export function setDynamicSuite(suite: SuiteSpec | undefined): void {
  current = suite;
}

export function dynamicSuite(): SuiteSpec | undefined {
  return current;
}

export const DYNAMIC_SPEC = 'dynamic.spec.js';
