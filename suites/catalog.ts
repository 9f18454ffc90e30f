/** Every suite, in run order. Suite ids are part of the interface (`returnpath run --suite ID`). */
import type { SuiteSpec } from '../lib/scenario/cell.js';
import { baselineSuite } from './baseline.cells.js';
import { chaosSuite } from './chaos.cells.js';
import { crossZoneCollisionSuite } from './cross-zone-collision.cells.js';
import { eniRpFilterSuite } from './eni-rp-filter.cells.js';
import { lbSnatPolicyRoutingSuite } from './lb-snat-policy-routing.cells.js';
import { nlbHairpinSuite } from './nlb-hairpin.cells.js';

export const SUITES: readonly SuiteSpec[] = [
  baselineSuite,
  eniRpFilterSuite,
  lbSnatPolicyRoutingSuite,
  nlbHairpinSuite,
  crossZoneCollisionSuite,
  chaosSuite,
];

/** The spec file of a suite, relative to suites/ (what `returnpath run` hands to mocha). */
export function specFile(id: string): string {
  return `${id}.spec.js`;
}
