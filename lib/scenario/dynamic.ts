/**
 * Suites built at run time (certification builds one from a node image; `run --file` loads one
 * from a suite file): the run command sets them before mocha loads suites/dynamic.spec.js, which
 * describes them. Plain mocha finds none and skips.
 */
import type { SuiteSpec } from './cell.js';

let current: readonly SuiteSpec[] = [];

export function setDynamicSuites(suites: readonly SuiteSpec[]): void {
  current = suites;
}

export function setDynamicSuite(suite: SuiteSpec | undefined): void {
  current = suite ? [suite] : [];
}

export function dynamicSuites(): readonly SuiteSpec[] {
  return current;
}

export const DYNAMIC_SPEC = 'dynamic.spec.js';
