/**
 * Every suite, in run order. Suite ids are part of the interface (`returnpath run --suite ID`).
 * Two suites are data files (suites/*.suite.yaml, the format of `returnpath run --file`): the
 * file is their source of truth, loaded and expanded by the same engine as a user's suite file.
 */
import { fileURLToPath } from 'node:url';
import type { SuiteSpec } from '../lib/scenario/cell.js';
import { loadSuiteFileSync } from '../lib/scenario/suite-file.js';
import { chaosSuite } from './chaos.cells.js';
import { eniRpFilterSuite } from './eni-rp-filter.cells.js';
import { lbSnatPolicyRoutingSuite } from './lb-snat-policy-routing.cells.js';
import { nlbHairpinSuite } from './nlb-hairpin.cells.js';

/** suites/<id>.suite.yaml in the source tree (also when running from dist/). */
export function builtinSuiteFile(id: string): string {
  return fileURLToPath(new URL(`../../suites/${id}.suite.yaml`, import.meta.url));
}

function fromFile(id: string): SuiteSpec {
  return loadSuiteFileSync(builtinSuiteFile(id), { display: `suites/${id}.suite.yaml`, builtin: true });
}

export const SUITES: readonly SuiteSpec[] = [
  fromFile('baseline'),
  eniRpFilterSuite,
  lbSnatPolicyRoutingSuite,
  nlbHairpinSuite,
  fromFile('cross-zone-collision'),
  chaosSuite,
];

/** A built-in suite by id. */
export function suiteById(id: string): SuiteSpec {
  const s = SUITES.find((x) => x.id === id);
  if (!s) throw new Error(`no built-in suite ${id}`);
  return s;
}

/** The spec file of a suite, relative to suites/ (what `returnpath run` hands to mocha). */
export function specFile(id: string): string {
  return `${id}.spec.js`;
}
