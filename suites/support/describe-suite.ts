/**
 * Mocha glue: one describe per suite, one test per cell. The test awaits the cell's result from the
 * session and asserts that the kernel did what the cell expects; the failure message carries the
 * checks, the evidence, the mechanism and how to reproduce.
 */
import { expect } from 'chai';
import { suiteTitle, testTitle, validateSuite, type SuiteSpec } from '../../lib/scenario/cell.js';
import type { CellResult } from '../../lib/scenario/result.js';
import { session } from '../../lib/scenario/session.js';
import { describeMiss } from '../../lib/scenario/misses.js';
import { requireLab } from '../../lib/lab/test-support.js';

/** A rate cell decides within 5 batches; timeouts cost the connect deadline. */
const CELL_TIMEOUT_MS = 120_000;

export function failureMessage(r: CellResult): string {
  return [
    `${r.suite}/${r.id}: ${r.status}: ${r.reason}`,
    `expected: ${r.expectation}`,
    `flow: ${r.flow}; counts ${JSON.stringify(r.counts)}`,
    ...r.checks.map((c) => `check ${c.status}: ${c.name}: ${c.detail}`),
    ...r.evidence.map((e) => `evidence: ${e.summary}`),
    ...(r.misses ?? []).flatMap((m) => [`missed: ${describeMiss(m)}`, ...m.evidence.map((e) => `    ${e}`)]),
    `mechanism: ${r.explanation}`,
    ...r.reproduce.map((c) => `reproduce: ${c}`),
    ...(r.error ? [`error: ${r.error}`] : []),
  ].join('\n  ');
}

export function describeSuite(suite: SuiteSpec): void {
  validateSuite(suite);
  describe(suiteTitle(suite), function () {
    this.timeout(CELL_TIMEOUT_MS);
    before(function () {
      requireLab(this);
    });
    for (const cell of suite.cells)
      it(testTitle(cell), async function () {
        const r = await session().result(cell);
        expect(r.status, failureMessage(r)).to.equal('pass');
      });
  });
}
